package bufpool

import "testing"

func TestPool(t *testing.T) {
	p := Pool{Max: 64}
	p.Put(nil) // ignored
	for _, c := range []struct {
		name string
		cap  int
		kept bool
	}{{"small", 16, true}, {"at max", 64, true}, {"past max", 65, false}} {
		b := p.Get()
		if len(*b) != 0 {
			t.Fatalf("%s: Get returned %d bytes", c.name, len(*b))
		}
		*b = append(make([]byte, 0, c.cap), "data"...)
		p.Put(b)
		if c.kept && len(*b) != 0 {
			t.Errorf("%s: a kept buffer was not emptied", c.name)
		}
		if !c.kept && len(*b) == 0 {
			t.Errorf("%s: a buffer past Max was emptied, so it was kept", c.name)
		}
	}
}
