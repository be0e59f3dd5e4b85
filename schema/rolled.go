package schema

import (
	"regexp"
	"strings"
)

// RollupMeasures are the summed columns of every rollup table.
const RollupMeasures = "cost, prompt_tokens, completion_tokens, total_tokens, requests, errors"

// rolledRE is the placeholder "{rolled TABLE by DIMS[ with EXTRAS]}" of
// the migrations: Rolled(db, TABLE, DIMS, EXTRAS, "1").
var rolledRE = regexp.MustCompile(`\{rolled (\w+) by ([\w, ]+?)(?: with ([\w, ]+))?\}`)

func expandRolled(sql, db string) string {
	return rolledRE.ReplaceAllStringFunc(sql, func(p string) string {
		m := rolledRE.FindStringSubmatch(p)
		return Rolled(db, m[1], list(m[2]), list(m[3]), "1")
	})
}

// list splits "a, b, c" (identifiers) into its names.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// Rolled is a subquery with the columns date, dims, extras and the
// RollupMeasures of the rollup table: one row per day and group, for the
// days where holds (a condition on date only, or "1", applied inside both
// halves so that both prune by date). A day not done in spend_rollup_days
// gives the sums of its requests in spend_events, a done day its rollup
// row; extras are any() of the group.
//
// The done days are read once per query, by the ledger half, which takes
// every request of the days not done; the rollup half takes every rollup
// row, and a group keeps the ledger's sums when the ledger half has it
// (its day is not done: a rollup row of it may be from a roll that did
// not finish) and the rollup row otherwise. A group in the rollup of a day
// not done is in the ledger too (groups only grow). Reading the done days
// twice (once per half) would put a day marked done between the two reads
// in neither half or in both.
//
// For a cluster, pass the result through Global.
func Rolled(db, table string, dims, extras []string, where string) string {
	cols := strings.Join(append(append([]string{}, dims...), extras...), ", ")
	var sel strings.Builder
	sel.WriteString("date, " + strings.Join(dims, ", "))
	for _, e := range extras {
		sel.WriteString(", any(" + e + ") AS " + e)
	}
	for _, m := range strings.Split(RollupMeasures, ", ") {
		sel.WriteString(", if(max(ledger) = 1, sumIf(" + m + ", ledger = 1), sum(" + m + ")) AS " + m)
	}
	// Every Date not done: IN prunes spend_events by its sorting key on
	// 18.16, NOT IN does not.
	notDone := "(SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536) WHERE d NOT IN " +
		"(SELECT date FROM " + db + ".spend_rollup_days WHERE state = 'done'))"
	return "(SELECT " + sel.String() +
		" FROM (SELECT toUInt8(0) AS ledger, date, " + cols + ", " + RollupMeasures + " FROM " + db + "." + table + " FINAL WHERE " + where +
		" UNION ALL SELECT toUInt8(1) AS ledger, date, " + cols + ", cost, prompt_tokens, completion_tokens, total_tokens, " +
		"toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors FROM " + db + ".spend_events WHERE (" + where +
		") AND date IN " + notDone + ") GROUP BY date, " + strings.Join(dims, ", ") + ")"
}
