// Command gatewayctl manages a gatehouse gateway over its admin API: keys,
// teams, users, models, spend, JWT settings, edges. Run "gatewayctl -h".
// The logic lives in package ctl.
package main

import (
	"os"

	"github.com/gatehouse/gatehouse/cmd/internal/ctl"
)

func main() {
	os.Exit(ctl.Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
