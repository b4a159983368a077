package knowledge

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Params are the matcher's tuning knobs. DefaultParams were tuned on the question sets
// under testdata/eval; see README.md for how.
type Params struct {
	// Field weights and length normalisation (b) of BM25F, and its saturation k1.
	WQuestions, WKeywords, WTitle, WBody float64
	BQuestions, BKeywords, BTitle, BBody float64
	K1                                   float64

	// Threshold is the confidence below which scobot declines.
	Threshold float64
	// Margin: when the runner-up is this close to the best, the answer is ambiguous
	// and comes with suggestions.
	Margin float64
	// TypoWeight is how much a typo-corrected word counts, relative to an exact one.
	TypoWeight float64
	// UnknownWeight is how much a word the knowledge base does not know counts against
	// the confidence, relative to the rarest known word.
	UnknownWeight float64
	// NameWeight multiplies UnknownWeight for an unknown name or number: "Iran" or
	// "1996" in a question is what it is about, so the answer must know it.
	NameWeight float64
	// MinSuggestion is the lowest confidence worth offering as "did you mean".
	MinSuggestion float64
	// NumberPenalty multiplies the score of an entry that states no number or date when
	// the question asks for one ("how many", "when", "what year"): such an entry can only
	// be the answer if it matches very well.
	NumberPenalty float64
}

// DefaultParams are the parameters Load uses.
var DefaultParams = Params{
	WQuestions: 4, WKeywords: 3, WTitle: 2, WBody: 1,
	BQuestions: 0.5, BKeywords: 0.3, BTitle: 0.3, BBody: 0.75,
	K1:            1.2,
	Threshold:     0.6,
	Margin:        0.05,
	TypoWeight:    0.8,
	UnknownWeight: 0.8,
	NameWeight:    1.5,
	MinSuggestion: 0.1,
	NumberPenalty: 0.6,
}

const (
	fieldQuestions = iota
	fieldKeywords
	fieldTitle
	fieldBody
	numFields
)

// phrase is a multi-word synonym: the term sequence and the group term it stands for.
type phrase struct {
	terms []int32
	canon int32
}

type posting struct {
	doc int32
	w   float32 // idf × saturated field-weighted term frequency, over the reference
}

// index is the matcher's view of a knowledge base. It is built once per load and
// only read afterwards, so any number of questions may use it at once.
type index struct {
	an       *Analyzer
	params   Params
	terms    map[string]int32 // stem (or number) → term id
	names    []string         // term id → display name
	canon    []int32          // term id → the term it counts as (its synonym group's)
	isGroup  []bool           // term id → is a synonym group term
	surfaces map[string]int32 // case-folded word seen in the knowledge base → term id
	phrases  map[int32][]phrase
	postings [][]posting // by canonical term id, sorted by doc
	idf      []float64   // by canonical term id
	idfMax   float64
	satRef   float64
	typos    typoIndex
	stems    *stemCache
	numDocs  int
	// hasNumber is set for entries whose title or answer states a number or a date.
	hasNumber []bool

	buildStems map[string]string // memo of stems while building; nil afterwards
}

func newIndex(an *Analyzer, p Params) *index {
	return &index{
		an:         an,
		params:     p,
		terms:      map[string]int32{},
		surfaces:   map[string]int32{},
		phrases:    map[int32][]phrase{},
		buildStems: map[string]string{},
		stems:      &stemCache{m: map[string]string{}, max: 50000, stem: an.Stem},
	}
}

func (x *index) term(name string) int32 {
	if id, ok := x.terms[name]; ok {
		return id
	}
	id := int32(len(x.names))
	x.terms[name] = id
	x.names = append(x.names, name)
	x.canon = append(x.canon, id)
	x.isGroup = append(x.isGroup, false)
	return id
}

// wordTerms analyses text at build time: each word's term, in order, without phrase
// or synonym handling. It records the surface forms for the query-time fast path.
func (x *index) wordTerms(text string, record bool) (seq []int32, joined []int32) {
	buf, toks, _ := tokenize(nil, nil, text, len(text))
	for _, t := range toks {
		w := string(buf[t.start:t.end])
		if x.an.IsStop(w) || (utf8.RuneCountInString(w) < 2 && !t.digits) {
			continue
		}
		name := w
		if !t.digits {
			// Words repeat across entries; stemming each distinct word once makes
			// loading a large knowledge base several times faster.
			stem, ok := x.buildStems[w]
			if !ok {
				stem = x.an.Stem(w)
				x.buildStems[w] = stem
			}
			name = stem
		}
		id := x.term(name)
		if record {
			x.surfaces[w] = id
		}
		if t.joined {
			joined = append(joined, id)
		} else {
			seq = append(seq, id)
		}
	}
	return seq, joined
}

// addSynonyms registers the synonym groups. A word or phrase in two groups (often
// because the stemmer already makes two spellings one word) merges the groups, with a
// warning; problems name the line of the group.
func (x *index) addSynonyms(file string, groups []synonymGroup) []Problem {
	var probs []Problem
	type owner struct {
		line  int
		group int32
	}
	owners := map[string]owner{} // member's analysed form → its group
	parent := map[int32]int32{}  // merged group → the group it joined
	find := func(g int32) int32 {
		for {
			p, ok := parent[g]
			if !ok {
				return g
			}
			g = p
		}
	}
	type member struct {
		seq   []int32
		group int32
	}
	var members []member
	for _, g := range groups {
		gid := x.term("=" + strings.ToLower(g.Members[0]))
		x.names[gid] = strings.ToLower(g.Members[0])
		x.isGroup[gid] = true
		for _, m := range g.Members {
			seq, _ := x.wordTerms(m, true)
			if len(seq) == 0 {
				probs = append(probs, Problem{File: file, Line: g.Line, Msg: fmt.Sprintf("%q has only common words, which are never matched", m)})
				continue
			}
			key := fmt.Sprint(seq)
			if o, dup := owners[key]; dup {
				if a, b := find(o.group), find(gid); a != b {
					parent[b] = a
					probs = append(probs, Problem{File: file, Line: g.Line, Warning: true, Msg: fmt.Sprintf("%q is also in the group on line %d; the two groups are merged", m, o.line)})
				}
				continue
			}
			owners[key] = owner{g.Line, gid}
			members = append(members, member{seq, gid})
		}
	}
	for _, m := range members {
		gid := find(m.group)
		if len(m.seq) == 1 {
			x.canon[m.seq[0]] = gid
			continue
		}
		x.phrases[m.seq[0]] = append(x.phrases[m.seq[0]], phrase{terms: m.seq, canon: gid})
	}
	for first := range x.phrases {
		ps := x.phrases[first]
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].terms) > len(ps[j].terms) })
	}
	return probs
}

// docTerms turns analysed words into the terms that are counted: phrases replaced by
// their group, each word by its synonym group.
func (x *index) docTerms(seq, joined []int32) []int32 {
	out := make([]int32, 0, len(seq)+len(joined))
	for i := 0; i < len(seq); {
		if n, canon := x.matchPhrase(seq[i:]); n > 0 {
			// The phrase counts as its group, and its words still count on their own, so
			// a question that names only part of it ("interbank") finds it too.
			out = append(out, canon)
			for _, t := range seq[i : i+n] {
				out = append(out, x.canon[t])
			}
			i += n
			continue
		}
		out = append(out, x.canon[seq[i]])
		i++
	}
	for _, t := range joined {
		out = append(out, x.canon[t])
	}
	return out
}

// matchPhrase reports the longest synonym phrase at the start of seq: how many terms
// it covers and its group term.
func (x *index) matchPhrase(seq []int32) (int, int32) {
	if len(seq) < 2 || seq[0] < 0 {
		return 0, 0
	}
	for _, p := range x.phrases[seq[0]] {
		if len(p.terms) > len(seq) {
			continue
		}
		ok := true
		for j, t := range p.terms {
			if seq[j] != t {
				ok = false
				break
			}
		}
		if ok {
			return len(p.terms), p.canon
		}
	}
	return 0, 0
}

// build indexes the entries with BM25F. Every field's term frequencies are normalised by
// the field's length, weighted, summed, saturated with k1 and multiplied by the idf; the
// result is divided by the value of one exact hit in an average questions field, so a
// question that matches an entry's own question word for word scores about 1.
func (x *index) build(entries []*Entry) {
	p := x.params
	weights := [numFields]float64{p.WQuestions, p.WKeywords, p.WTitle, p.WBody}
	bs := [numFields]float64{p.BQuestions, p.BKeywords, p.BTitle, p.BBody}
	n := len(entries)
	x.numDocs = n
	x.hasNumber = make([]bool, n)
	for d, e := range entries {
		x.hasNumber[d] = statesNumber(e.Title + " " + e.Body)
	}
	type fieldTerms struct {
		tf  map[int32]int
		len int
	}
	docs := make([][numFields]fieldTerms, n)
	var total [numFields]float64
	for d, e := range entries {
		texts := [numFields]string{
			strings.Join(e.Questions, "\n"),
			strings.Join(e.Keywords, "\n"),
			e.Title,
			e.Body + "\n" + e.Quote,
		}
		for f, text := range texts {
			terms := x.docTerms(x.wordTerms(text, true))
			ft := fieldTerms{tf: map[int32]int{}, len: len(terms)}
			for _, t := range terms {
				ft.tf[t]++
			}
			docs[d][f] = ft
			total[f] += float64(len(terms))
		}
	}
	var avg [numFields]float64
	for f := range avg {
		avg[f] = max(total[f]/float64(max(n, 1)), 1)
	}
	df := make([]int, len(x.names))
	for d := range docs {
		seen := map[int32]bool{}
		for f := range docs[d] {
			for t := range docs[d][f].tf {
				if !seen[t] {
					seen[t] = true
					df[t]++
				}
			}
		}
	}
	x.idf = make([]float64, len(x.names))
	for t, c := range df {
		if c > 0 {
			x.idf[t] = math.Log(1 + (float64(n)-float64(c)+0.5)/(float64(c)+0.5))
		}
	}
	x.idfMax = math.Log(1 + (float64(n)-1+0.5)/1.5)
	x.satRef = p.WQuestions / (p.K1 + p.WQuestions)
	x.postings = make([][]posting, len(x.names))
	for d := range docs {
		acc := map[int32]float64{}
		for f := range docs[d] {
			ft := docs[d][f]
			norm := 1 - bs[f] + bs[f]*float64(ft.len)/avg[f]
			for t, c := range ft.tf {
				acc[t] += weights[f] * float64(c) / norm
			}
		}
		keys := make([]int32, 0, len(acc))
		for t := range acc {
			keys = append(keys, t)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, t := range keys {
			tf := acc[t]
			w := x.idf[t] * tf / (p.K1 + tf) / x.satRef
			x.postings[t] = append(x.postings[t], posting{doc: int32(d), w: float32(w)})
		}
	}
	// The typo corrector knows every surface word whose term some entry uses.
	words := make([]string, 0, len(x.surfaces))
	for w := range x.surfaces {
		words = append(words, w)
	}
	x.buildStems = nil
	sort.Strings(words)
	for _, w := range words {
		t := x.surfaces[w]
		if c := df[x.canon[t]]; c > 0 {
			x.typos.add(typoWord{surface: w, runes: []rune(w), term: t, df: c})
		}
	}
}

// numberWords are the number words answers use instead of digits.
var numberWords = toSet("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "twenty", "thirty", "hundred", "thousand", "million", "billion", "dozen")

// statesNumber reports whether text contains a digit or a number word.
func statesNumber(text string) bool {
	buf, toks, _ := tokenize(nil, nil, text, len(text))
	for _, t := range toks {
		if t.digits || numberWords[string(buf[t.start:t.end])] {
			return true
		}
	}
	return false
}
