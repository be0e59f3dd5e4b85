package schema_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/schema"
)

// Migrations already applied on a server are never applied again, so a
// file may be rewritten (its placeholders, its comments) only as long as
// it renders to the same statements as before. The sums are of the
// statements of each file as rendered on 2026-12-04 (commit e295df8),
// before the rollup placeholders, and of later files as first written:
// for one server and in cluster form.
func TestRenderedUnchanged(t *testing.T) {
	want := map[string][2]string{ // file -> {one server, cluster}
		"0001_spend_events.sql":         {"ba5fa88779045e15c54f54547aa245dfdc9ba2c03fdb805a9210d454bb074334", "9820625f31c8c406cd0b8136f381f53cc26f8f0ad3ce1eeeee7e77bfcc7ff05f"},
		"0002_spend_daily.sql":          {"3060da69cfdc54b32d007d170023eca59d2e1998d35facf9329bf8fd5f004a8b", "5181c7e1f21fe57801841531fb8d964690cdd12baf7134a7684bf5753ace434a"},
		"0003_finance_views.sql":        {"91426bdfb9f0de1f8f83de9e289cb02a3d8f12639c68279037e34726afef779b", "3185a189ad798d6cb2ce828ae52ad699b38f43309bff3136f256d4c43f2cc8b3"},
		"0004_client_request_id.sql":    {"e11d5b78a8990005f54313a5c869434b31e181d120c00481c48884d23be55c19", "ef354ba4f2aad2f54a9c64dc4f3cbbc3c60cd334bec8bbab817189069a17fe27"},
		"0005_rollups.sql":              {"283c0965e5246b222e7c4672f4bf6e52b1fb3def8d6bd316d0100ef7fcc6ac7b", "c4234c2ad1b3c6d61ab155be9a5b0a6c3e94ed528c171556721d68e4206ac08b"},
		"0006_views_on_rollups.sql":     {"654127b53f90bfb2ef8c85de76e7d550526a3e33674dd721a449fccd7cccecec", "e2b1c6f83ea89278f65dc182fc9570a8a6d5a6152bb1e76d0f6d4609a08b79b8"},
		"0007_provenance.sql":           {"41cef70e68dd48313c2b6843887724ba78295e91952b88f029e9146524a236e3", "ea519f0221d2389992903d325f42c1836f16ad448fa953f0dcd9c4dd1cd36333"},
		"0008_views_read_done_once.sql": {"8801ccccac01d2ed2aed78b24d119aa5f6afc32e3bd120acdf21dc9a0d0146a6", "b2ac1d5821ce0949c6c7cbb8bcdae8b13c36a5a0d3358486e5150a0532d2989f"},
		"0009_cache_tokens.sql":         {"a17ac223e765cc38bb5dc743b1666144a21e2f19dfac3c443e04daf6107d8e9a", "f072d01ba959ad7cb81cdfec6264c1050893d2d0e1d00741821c507b4bf57935"},
		"0010_endpoint.sql":             {"6e2084a62f6d8b1287f9dee73f20e4561479feea8b2e92bcca42a9f663e772d0", "a36578cc59a85f73f52b13037c2bc35380d8afc5c5cc1538c7b53e15a383bf8a"},
		"0011_response_id.sql":          {"3290950c8892c73ce523ca6f1cae4958fa5694e60dac01a0e0444d3b2672104c", "7ac399cf470543230b897e9ff2618009fc54212fade77d554c55a5e7bc0a059e"},
	}
	one, err := schema.Migrations("gh")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := schema.ClusterMigrations("gh", "ledger")
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != len(cl) {
		t.Fatalf("%d migrations for one server, %d in cluster form", len(one), len(cl))
	}
	sum := func(stmts []string) string {
		h := sha256.Sum256([]byte(strings.Join(stmts, "\n;\n")))
		return hex.EncodeToString(h[:])
	}
	for i, m := range one {
		got := [2]string{sum(m.Statements), sum(cl[i].Statements)}
		w, ok := want[m.Name]
		if !ok {
			continue // a new migration: nothing applied to compare with
		}
		if got != w {
			t.Errorf("%s renders differently: sha256 %q, want %q", m.Name, got, w)
		}
	}
	for name := range want {
		if !slices.ContainsFunc(one, func(m schema.Migration) bool { return m.Name == name }) {
			t.Errorf("migration %s is gone", name)
		}
	}
}
