package schema

import (
	"fmt"
	"regexp"
	"strings"
)

// RollupMeasures are the summed columns of every rollup table.
const RollupMeasures = "cost, prompt_tokens, completion_tokens, total_tokens, requests, errors"

// placeholderRE is "{FORM TABLE by DIMS[ with EXTRAS]}" of the migrations:
// the statement (or subquery) forms writes for a rollup of TABLE per day
// and DIMS, EXTRAS being any() of the group. The rollups are declared in
// the files by their dimensions only, so that their columns, sums and
// halves are written once, here.
var placeholderRE = regexp.MustCompile(`\{(rollup table|sums of|split|select rolled|rolled) (\w+) by ([\w, ]+?)(?: with ([\w, ]+))?\}`)

// forms render the placeholders. Migrations already applied are never
// applied again: a form, once used by a file, must keep rendering the
// same text (TestRenderedUnchanged).
var forms = map[string]func(db, table string, dims, extras []string) string{
	// CREATE TABLE of a rollup (0005).
	"rollup table": rollupTable,
	// SELECT summing table (spend_events or a view with the rollup's
	// columns) per date and dims, one column a line (0002, 0003). The
	// dimension "month" is the first day of date's month, in its place.
	"sums of": func(db, table string, dims, extras []string) string {
		keys, group := append([]string{"date"}, dims...), append([]string{"date"}, dims...)
		if dims[0] == "month" {
			keys, group = append([]string{"toStartOfMonth(date) AS month"}, dims[1:]...), dims
		}
		return selectSums(db, table, keys, extras, "", strings.Join(group, ", "))
	},
	// The racy view of 0006: the rollup's rows for the days done in one
	// subquery, the ledger's for the others in a second (0008 says why).
	"split": split,
	// The finance view of 0008: every column of Rolled.
	"select rolled": func(db, table string, dims, extras []string) string {
		return "SELECT date, " + cols(dims, extras) + ", " + RollupMeasures + "\nFROM " + Rolled(db, table, dims, extras, "1")
	},
	// Rolled over every day (0008).
	"rolled": func(db, table string, dims, extras []string) string { return Rolled(db, table, dims, extras, "1") },
}

// expand renders every placeholder of stmt (a statement of a migration,
// {db} replaced by db).
func expand(stmt, db string) string {
	return placeholderRE.ReplaceAllStringFunc(stmt, func(p string) string {
		m := placeholderRE.FindStringSubmatch(p)
		return forms[m[1]](db, m[2], list(m[3]), list(m[4]))
	})
}

// list splits "a, b, c" (identifiers) into its names.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func cols(dims, extras []string) string {
	return strings.Join(append(append([]string{}, dims...), extras...), ", ")
}

// doneDays is the subquery of the days rolled into the rollups.
func doneDays(db string) string {
	return "(SELECT date FROM " + db + ".spend_rollup_days WHERE state = 'done')"
}

// sums are the aggregates of the RollupMeasures over rows of table: the
// ledger (spend_events) has a row per request, any other table (a rollup,
// spend_daily) the sums.
func sums(table string) []string {
	var out []string
	for _, m := range strings.Split(RollupMeasures, ", ") {
		agg := "sum(" + m + ")"
		if table == "spend_events" && m == "requests" {
			agg = "count()"
		} else if table == "spend_events" && m == "errors" {
			agg = "countIf(outcome != 'ok')"
		}
		out = append(out, agg+" AS "+m)
	}
	return out
}

// selectSums is the SELECT of keys, extras and the sums of db.table, one
// column a line.
func selectSums(db, table string, keys, extras []string, where, groupBy string) string {
	lines := append([]string{}, keys...)
	for _, e := range extras {
		lines = append(lines, "any("+e+") AS "+e)
	}
	lines = append(lines, sums(table)...)
	q := "SELECT\n    " + strings.Join(lines, ",\n    ") + "\nFROM " + db + "." + table
	if where != "" {
		q += "\nWHERE " + where
	}
	return q + "\nGROUP BY " + groupBy
}

func split(db, table string, dims, extras []string) string {
	d := strings.Join(dims, ", ")
	notDone := "date IN (\n    SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)\n    WHERE d NOT IN " + doneDays(db) + ")"
	return "SELECT date, " + cols(dims, extras) + ", " + RollupMeasures +
		"\nFROM " + db + "." + table + " FINAL\nWHERE date IN " + doneDays(db) + "\nUNION ALL\n" +
		selectSums(db, "spend_events", []string{"date", d}, extras, notDone, "date, "+d)
}

func rollupTable(db, table string, dims, extras []string) string {
	var lines []string
	col := func(name, typ string) { lines = append(lines, fmt.Sprintf("    %-17s %s", name, typ)) }
	col("date", "Date")
	for _, c := range append(append([]string{}, dims...), extras...) {
		col(c, "String")
	}
	for _, m := range strings.Split(RollupMeasures, ", ") {
		typ := "UInt64"
		if m == "cost" {
			typ = "Float64"
		}
		col(m, typ)
	}
	col("version", "UInt64")
	return "CREATE TABLE IF NOT EXISTS " + db + "." + table + "\n(\n" + strings.Join(lines, ",\n") + "\n)\n" +
		"ENGINE = ReplacingMergeTree(version)\nPARTITION BY toYYYYMM(date)\nORDER BY (date, " + strings.Join(dims, ", ") + ")\n" +
		"{sharded by toYYYYMMDD(date)}"
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
	notDone := "(SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536) WHERE d NOT IN " + doneDays(db) + ")"
	c := cols(dims, extras)
	return "(SELECT " + sel.String() +
		" FROM (SELECT toUInt8(0) AS ledger, date, " + c + ", " + RollupMeasures + " FROM " + db + "." + table + " FINAL WHERE " + where +
		" UNION ALL SELECT toUInt8(1) AS ledger, date, " + c + ", cost, prompt_tokens, completion_tokens, total_tokens, " +
		"toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors FROM " + db + ".spend_events WHERE (" + where +
		") AND date IN " + notDone + ") GROUP BY date, " + strings.Join(dims, ", ") + ")"
}
