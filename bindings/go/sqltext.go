package litecommit

import "strings"

// firstKeyword is the first word of a statement, as written, after whitespace and
// comments ("" if it does not start with a word).
func firstKeyword(sql string) string {
	s := strings.TrimPrefix(sql, "\uFEFF")
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(s, "--"):
			end := strings.IndexByte(s, '\n')
			if end < 0 {
				return ""
			}
			s = s[end+1:]
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s[2:], "*/")
			if end < 0 {
				return ""
			}
			s = s[2+end+2:]
		default:
			n := 0
			for n < len(s) && isASCIILetter(s[n]) {
				n++
			}
			return s[:n]
		}
	}
}

func isASCIILetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// writeKeywords are the first words of the statements that change the database.
var writeKeywords = []string{"insert", "update", "delete", "replace", "create", "drop", "alter", "reindex", "analyze"}

// isWriteKeyword reports whether a statement starting with kw (in any case) changes the
// database.
func isWriteKeyword(kw string) bool {
	for _, w := range writeKeywords {
		if strings.EqualFold(kw, w) {
			return true
		}
	}
	return false
}

// mayReturnColumns reports whether a statement may have result columns: a write without
// a RETURNING clause has none. It errs on the side of true (a "returning" inside a string
// literal counts), which only costs reading the full result.
func mayReturnColumns(sql string) bool {
	if !isWriteKeyword(firstKeyword(sql)) {
		return true
	}
	return containsFoldASCII(sql, "returning")
}

// containsFoldASCII reports whether s contains word (lower-case ASCII), ignoring case.
func containsFoldASCII(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) && s[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}
