package slackapi

import (
	"encoding/json"
	"sort"
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// textsIn collects every "text" string value in a JSON document, depth first.
func textsIn(raw string) []string {
	if raw == "" {
		return nil
	}
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if t, ok := v["text"].(string); ok {
				out = append(out, t)
			}
			for _, k := range keys {
				if k != "text" || !isString(v[k]) {
					walk(v[k])
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func isString(v any) bool { _, ok := v.(string); return ok }
