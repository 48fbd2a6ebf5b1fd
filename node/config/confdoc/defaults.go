package confdoc

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// defaultOf renders the default held in v for people. literal reports a
// YAML value; otherwise the text describes the default, taken from the
// doc comment's "Default ..." sentence (for zero values, which are decided
// when the node starts) or "none".
func (w *walker) defaultOf(v reflect.Value, doc string) (text string, literal bool) {
	stated := DocDefault(doc)
	if !v.IsValid() || v.IsZero() {
		if stated != "" {
			return stated, false
		}
		if !v.IsValid() {
			return "none", false
		}
		switch v.Kind() {
		case reflect.Bool:
			return "false", true
		case reflect.Slice:
			return "[]", true
		case reflect.Map:
			return "{}", true
		}
		return "none", false
	}
	if v.Kind() == reflect.String && w.host != "" && v.String() == w.host {
		if stated != "" {
			return stated, false
		}
		return "the host name", false
	}
	return yamlValue(v), true
}

// yamlValue renders v as a YAML flow value.
func yamlValue(v reflect.Value) string {
	if v.Type() == durationType {
		return shortDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return yamlValue(v.Elem())
	case reflect.String:
		return yamlString(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = yamlValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		var parts []string
		for _, k := range v.MapKeys() {
			parts = append(parts, yamlValue(k)+": "+yamlValue(v.MapIndex(k)))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}

// plainScalar matches strings YAML reads back unchanged without quotes.
var plainScalar = regexp.MustCompile(`^[A-Za-z0-9/_.][A-Za-z0-9/_.:+-]*$`)

func yamlString(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~":
		return strconv.Quote(s)
	}
	if plainScalar.MatchString(s) && !strings.HasSuffix(s, ":") {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return s
		}
	}
	return strconv.Quote(s)
}

// shortDuration writes d as people write it: 12h rather than 12h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// defaultSentence finds a sentence starting with "Default" (or "Default:")
// and captures the rest of it, up to a full stop followed by a space or the
// end, or a semicolon.
var defaultSentence = regexp.MustCompile(`(?:^|[.;]\s)Default:?\s+(.+?)(?:\.\s|\.$|;|$)`)

// DocDefault returns what a doc comment says the default is: the text after
// "Default" in a sentence that starts with it ("Default 2s." gives "2s",
// "Default: derived from the name." gives "derived from the name"), or "".
func DocDefault(doc string) string {
	flat := strings.Join(strings.Fields(doc), " ")
	m := defaultSentence.FindStringSubmatch(flat)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}
