// Command baseline runs the plain fasthttp reverse proxy (B1) load-test baseline.
package main

import (
	"flag"
	"log"
	"net"

	"github.com/gatehouse/gatehouse/loadtest/baseline"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:9001", "upstream host:port")
	useFiber := flag.Bool("fiber", false, "serve through Fiber with the edge's server settings (the framework floor) instead of plain fasthttp")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("baseline proxy listening on %s -> %s", ln.Addr(), *upstream)
	newProxy := baseline.New
	if *useFiber {
		newProxy = baseline.NewFiber
	}
	if err := newProxy(*upstream).Serve(ln); err != nil {
		log.Fatal(err)
	}
}
