package testutil

import "sync"

// Flood calls fn(w, i) in workers goroutines (w the worker, i counting
// its calls from 0) back to back until stop is called. stop waits for the
// calls in flight and may be called more than once: defer it, so no
// call outlives a failed test, and call it where the flood must be over.
func Flood(workers int, fn func(w, i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				fn(w, i)
			}
		}()
	}
	return sync.OnceFunc(func() { close(done); wg.Wait() })
}
