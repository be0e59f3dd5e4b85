package e2e

import (
	"encoding/json"
	"errors"
	"os"
)

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

func writeFile(t interface{ Fatal(...any) }, path, data string) {
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func jsonInto(raw []byte, v any) error { return json.Unmarshal(raw, v) }
