// Package opt owns what "unset" means for an option: every Options type
// in gatehouse fills its defaults with these helpers, so a zero or
// negative number or duration, and a zero value of anything else, means
// "use the default" the same way everywhere.
package opt

import "cmp"

// Positive sets *v to def unless *v is above zero (counts, sizes,
// durations: zero and negative are "unset").
func Positive[T cmp.Ordered](v *T, def T) {
	var zero T
	if *v <= zero {
		*v = def
	}
}

// Or sets *v to def when *v is its type's zero value.
func Or[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
