package knowledge

import (
	"math/bits"
	"unicode/utf8"
)

// typoBudget is how many edits a word of n letters may have and still be corrected:
// none for short words, where one edit makes another real word; one for 5 to 8 letters;
// two from 9 letters on.
func typoBudget(n int) int {
	switch {
	case n <= 4:
		return 0
	case n <= 8:
		return 1
	}
	return 2
}

// maxTypoRunes bounds the words the corrector looks at; longer ones are not words.
const maxTypoRunes = 40

// typoWord is one word of the knowledge base's vocabulary, ready for comparison.
type typoWord struct {
	surface string
	runes   []rune
	sig     uint64 // which letters occur, a quick filter before the edit distance
	term    int32
	df      int // how many entries use the word's term; the tie-breaker
}

// typoIndex finds the vocabulary word closest to a misspelt one. Words are grouped by
// length, and a letter-set signature rules out most of them before the edit distance
// is computed: k edits change at most 2k letters of the set.
type typoIndex struct {
	byLen [maxTypoRunes + 1][]typoWord
}

func letterSig(rs []rune) uint64 {
	var s uint64
	for _, r := range rs {
		if r >= 'a' && r <= 'z' {
			s |= 1 << uint(r-'a')
		} else {
			s |= 1 << (26 + uint(r)%38)
		}
	}
	return s
}

func (t *typoIndex) add(w typoWord) {
	n := len(w.runes)
	if n == 0 || n > maxTypoRunes {
		return
	}
	w.sig = letterSig(w.runes)
	t.byLen[n] = append(t.byLen[n], w)
}

// correct returns the closest vocabulary word to word within its typo budget: fewest
// edits first, then the word more entries use, then the first in vocabulary order (which
// is sorted), so the choice is deterministic. ok is false when none is close enough.
func (t *typoIndex) correct(word []byte) (best *typoWord, dist int, ok bool) {
	var rbuf [maxTypoRunes]rune
	n := 0
	for i := 0; i < len(word); {
		r, size := utf8.DecodeRune(word[i:])
		if n == maxTypoRunes {
			return nil, 0, false
		}
		rbuf[n] = r
		n++
		i += size
	}
	k := typoBudget(n)
	if k == 0 {
		return nil, 0, false
	}
	rs := rbuf[:n]
	sig := letterSig(rs)
	dist = k + 1
	for l := max(1, n-k); l <= min(maxTypoRunes, n+k); l++ {
		for i := range t.byLen[l] {
			w := &t.byLen[l][i]
			if bits.OnesCount64(sig^w.sig) > 2*k {
				continue
			}
			// A word may only be corrected to one whose own budget allows the same edits,
			// so a long misspelling never turns into a short, unrelated word.
			limit := min(k, typoBudget(l))
			if limit == 0 {
				continue
			}
			d := osaDistance(rs, w.runes, min(limit, dist))
			if d > limit || d > dist {
				continue
			}
			if d < dist || w.df > best.df {
				best, dist = w, d
			}
		}
	}
	return best, dist, best != nil
}

// osaDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and swaps of two adjacent letters each cost one. It stops early and
// returns limit+1 once the distance must exceed limit.
func osaDistance(a, b []rune, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	var rows [3][maxTypoRunes + 1]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
