package deploy

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// chConfig is the part of a ClickHouse config.d file the cluster example
// sets.
type chConfig struct {
	XMLName xml.Name `xml:"yandex"`
	Remote  struct {
		Ledger struct {
			Shards []struct {
				Internal bool `xml:"internal_replication"`
				Replicas []struct {
					Host string `xml:"host"`
					Port int    `xml:"port"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:"ledger"`
	} `xml:"remote_servers"`
	ZooKeeper []struct {
		Host string `xml:"host"`
	} `xml:"zookeeper>node"`
	DDLPath   string `xml:"distributed_ddl>path"`
	InterHost string `xml:"interserver_http_host"`
	Shard     string `xml:"macros>shard"`
	Replica   string `xml:"macros>replica"`
}

func readCH(t *testing.T, name string) chConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("clickhouse-cluster", name))
	if err != nil {
		t.Fatal(err)
	}
	var c chConfig
	if err := xml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// The cluster example fits together: 2 shards x 2 replicas with internal
// replication, ZooKeeper and the ON CLUSTER queue, and a macros file per
// node whose shard and replica are that node's place in remote_servers.
func TestClickHouseCluster(t *testing.T) {
	rs := readCH(t, "remote_servers.xml").Remote.Ledger.Shards
	if len(rs) != 2 {
		t.Fatalf("%d shards, want 2", len(rs))
	}
	var hosts []string
	for i, s := range rs {
		if !s.Internal || len(s.Replicas) != 2 {
			t.Errorf("shard %d: internal_replication %v, %d replicas; want true, 2", i+1, s.Internal, len(s.Replicas))
		}
		for _, r := range s.Replicas {
			if r.Port != 9000 {
				t.Errorf("%s: port %d, want the native protocol's 9000", r.Host, r.Port)
			}
			hosts = append(hosts, r.Host)
		}
	}
	zk := readCH(t, "zookeeper.xml")
	if len(zk.ZooKeeper) != 3 || zk.DDLPath == "" {
		t.Errorf("zookeeper.xml: %d ZooKeeper nodes, distributed_ddl %q", len(zk.ZooKeeper), zk.DDLPath)
	}
	macros, _ := filepath.Glob("clickhouse-cluster/macros-*.xml")
	if len(macros) != len(hosts) {
		t.Fatalf("%d macros files for %d nodes", len(macros), len(hosts))
	}
	seen := map[string]bool{}
	for _, m := range macros {
		c := readCH(t, filepath.Base(m))
		i := slices.Index(hosts, c.InterHost)
		if i < 0 {
			t.Errorf("%s: interserver host %q is not in remote_servers", m, c.InterHost)
			continue
		}
		// hosts are in shard order, two per shard.
		if want := "0" + string(rune('1'+i/2)); c.Shard != want || c.Replica == "" {
			t.Errorf("%s: shard %q replica %q; %s is in shard %s", m, c.Shard, c.Replica, c.InterHost, want)
		}
		key := c.Shard + "/" + c.Replica
		if seen[key] {
			t.Errorf("%s: shard %s replica %s twice", m, c.Shard, c.Replica)
		}
		seen[key] = true
	}
}
