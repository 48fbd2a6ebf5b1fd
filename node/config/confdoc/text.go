package confdoc

import (
	"regexp"
	"strings"
)

// goWord matches a capitalised word that may be a Go field name.
var goWord = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// yamlNames rewrites a field's doc comment for people who write YAML: the
// comment's first word, the field's own Go name, becomes its key
// ("StateDir holds" → "`state_dir` holds"), and so do names of sibling
// fields inside sentences ("prefer TokenFile" → "prefer `token_file`").
// Words at the start of a sentence, all-capital words (acronyms such as
// DNS or MTU) and text in backquotes are left alone.
func yamlNames(doc, own string, siblings map[string]string) string {
	var b strings.Builder
	last := 0
	for _, m := range goWord.FindAllStringIndex(doc, -1) {
		word := doc[m[0]:m[1]]
		key, ok := siblings[word]
		if !ok || inBackquotes(doc[:m[0]]) {
			continue
		}
		first := strings.TrimSpace(doc[:m[0]]) == ""
		if first && word != own {
			continue
		}
		if !first && (sentenceStart(doc[:m[0]]) || strings.ToUpper(word) == word) {
			continue
		}
		b.WriteString(doc[last:m[0]])
		b.WriteString("`" + key + "`")
		last = m[1]
	}
	b.WriteString(doc[last:])
	return b.String()
}

// sentenceStart reports whether the text before a word ends a sentence.
func sentenceStart(before string) bool {
	t := strings.TrimRight(before, " \t\n")
	if t == "" {
		return true
	}
	return len(t) < len(before) && strings.ContainsAny(t[len(t)-1:], ".!?:")
}

func inBackquotes(before string) bool { return strings.Count(before, "`")%2 == 1 }
