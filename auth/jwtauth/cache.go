package jwtauth

import (
	"strings"
	"sync"
	"time"
)

const cacheShards = 64

// tokenCache holds verified tokens until they expire, bounded in size. It
// is keyed by the token itself: a lookup is one map access (tens of ns)
// where hashing an 800-byte token first would cost ~0.8 µs; the tokens are
// bearer credentials held only in this process's memory, like the keys
// that verified them.
type tokenCache struct {
	perShard int
	// maxAge bounds an entry's life even before exp (public_key_ttl), so a
	// token signed with a key the provider withdrew stops working once the
	// key cache would have dropped the key too.
	maxAge time.Duration
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	id    *Identity
	until time.Time
}

func newTokenCache(size int, maxAge time.Duration) *tokenCache {
	c := &tokenCache{perShard: max(size/cacheShards, 1), maxAge: maxAge}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

// shard picks by the token's last bytes: the signature, which is random.
func (c *tokenCache) shard(tok string) *cacheShard {
	h := uint(0)
	for i := len(tok) - 1; i >= 0 && i >= len(tok)-4; i-- {
		h = h*31 + uint(tok[i])
	}
	return &c.shards[h%cacheShards]
}

func (c *tokenCache) get(tok string, now time.Time) *Identity {
	s := c.shard(tok)
	s.mu.RLock()
	e, ok := s.m[tok]
	s.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.id
}

func (c *tokenCache) put(tok string, id *Identity, now time.Time) {
	s := c.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		// Drop expired entries; if that frees too little, drop an arbitrary
		// quarter (map order is random): a miss only costs a verify.
		for k, v := range s.m {
			if !now.Before(v.until) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.perShard {
			n := len(s.m) / 4
			for k := range s.m {
				if n <= 0 {
					break
				}
				delete(s.m, k)
				n--
			}
		}
	}
	until := now.Add(c.maxAge)
	if !id.Expires.IsZero() && id.Expires.Before(until) {
		until = id.Expires
	}
	// The key is copied: callers pass the header as Fiber hands it over, a
	// string over fasthttp's request buffer that the next request on the
	// connection overwrites. Kept as is, a cached key would turn into the
	// next request's token, and a same-length forgery would hit the cache
	// as the verified token.
	s.m[strings.Clone(tok)] = cacheEntry{id: id, until: until}
}
