package knowledge

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Answer is what the matcher found for one question.
type Answer struct {
	Question string
	// Answered is false when scobot declines: nothing in the knowledge base is close
	// enough. Entry is nil then.
	Answered bool
	Entry    *Entry
	// Score is the confidence, from 0 to 1, in Entry (or, when declined, in the best
	// candidate): the share of the question's meaningful words the entry matches,
	// weighted by how rare each word is and how important the field it is found in.
	Score float64
	// Ambiguous is set when another entry scored almost as well; Suggestions holds it.
	Ambiguous bool
	// Suggestions are up to three other entries, best first, offered as "did you mean"
	// when scobot declines or is unsure. Empty for a clear answer.
	Suggestions []Suggestion
	Why         Why
}

// Suggestion is a candidate entry with its confidence.
type Suggestion struct {
	Entry *Entry
	Score float64
}

// Why explains an answer: which words matched, which were corrected or unknown.
type Why struct {
	Matched     []string     // terms of the question found in the answer, as analysed
	Unknown     []string     // words of the question the knowledge base does not know
	Corrections []Correction // typos corrected
	Synonyms    []string     // synonym groups the question used, by their first member
	Truncated   bool         // the question was longer than MaxQueryBytes; the rest was ignored
	Score       float64
}

// Correction is one typo fixed: From as typed, To the knowledge base's word.
type Correction struct {
	From, To string
}

// String gives the explanation in one line, for logs and `ask`.
func (w Why) String() string {
	var parts []string
	if len(w.Matched) > 0 {
		parts = append(parts, "matched "+strings.Join(w.Matched, ", "))
	} else {
		parts = append(parts, "no words matched")
	}
	for _, c := range w.Corrections {
		parts = append(parts, fmt.Sprintf("read %q as %q", c.From, c.To))
	}
	if len(w.Synonyms) > 0 {
		parts = append(parts, "synonyms "+strings.Join(w.Synonyms, ", "))
	}
	if len(w.Unknown) > 0 {
		parts = append(parts, "unknown "+strings.Join(w.Unknown, ", "))
	}
	if w.Truncated {
		parts = append(parts, fmt.Sprintf("only the first %d bytes were read", MaxQueryBytes))
	}
	parts = append(parts, fmt.Sprintf("score %.2f", w.Score))
	return strings.Join(parts, "; ")
}

// qterm is one distinct term of a question.
type qterm struct {
	term   int32 // canonical term
	weight float64
	group  bool
}

// scratch holds one question's working memory. It is pooled so that answering a
// question allocates only its result.
type scratch struct {
	buf     []byte
	toks    []token
	ids     []int32 // term per token, -1 unknown, -2 dropped
	typo    []int8  // per token: 1 when the term came from a typo correction
	seq     []int32
	qterms  []qterm
	scores  []float64
	touched []int32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

const maxSuggestions = 3

// ranked is one candidate of a search.
type ranked struct {
	doc   int32
	score float64
}

// Answer finds the entry that best answers question. It never fails: a question the
// knowledge base cannot answer, empty text, emoji, invalid UTF-8 or a megabyte of text
// give a declined Answer. The same knowledge base and question always give the same
// Answer; ties go to the entry whose id sorts first.
func (kb *KB) Answer(question string) Answer {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	var top [maxSuggestions + 1]ranked
	n, why := kb.search(s, question, top[:])
	a := Answer{Question: question, Why: why}
	if n == 0 {
		return a
	}
	p := kb.idx.params
	// Scores above 1 are strong matches; they rank apart but show as confidence 1. The
	// margin is measured on the raw scores, so two strong matches of very different
	// strength are not called ambiguous.
	best := top[0]
	a.Score = min(best.score, 1)
	a.Why.Score = a.Score
	a.Answered = best.score >= p.Threshold
	a.Why.Matched = kb.idx.matched(s.qterms, best.doc)
	if a.Answered {
		a.Entry = kb.Entries[best.doc]
		for _, r := range top[1:n] {
			if r.score >= best.score-p.Margin && kb.Entries[r.doc].Section != a.Entry.Section {
				a.Ambiguous = true
			}
		}
	}
	if !a.Answered || a.Ambiguous {
		from := 0
		if a.Answered {
			from = 1
		}
		for _, r := range top[from:n] {
			if r.score < p.MinSuggestion || len(a.Suggestions) == maxSuggestions {
				break
			}
			if a.Suggestions == nil {
				a.Suggestions = make([]Suggestion, 0, maxSuggestions)
			}
			a.Suggestions = append(a.Suggestions, Suggestion{Entry: kb.Entries[r.doc], Score: min(r.score, 1)})
		}
	}
	return a
}

// Rank returns up to k entries for question, best first, whatever their confidence.
// The eval command uses it for MRR.
func (kb *KB) Rank(question string, k int) []Suggestion {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	top := make([]ranked, k)
	n, _ := kb.search(s, question, top)
	out := make([]Suggestion, n)
	for i, r := range top[:n] {
		out[i] = Suggestion{Entry: kb.Entries[r.doc], Score: min(r.score, 1)}
	}
	return out
}

// search scores every entry that shares a term with question and fills top with the
// best, by confidence and then by entry order. It returns how many it filled.
func (kb *KB) search(s *scratch, question string, top []ranked) (int, Why) {
	x := kb.idx
	p := x.params
	var why Why
	s.buf, s.toks, why.Truncated = tokenize(s.buf[:0], s.toks[:0], question, MaxQueryBytes)
	s.ids = s.ids[:0]
	s.typo = s.typo[:0]
	for _, t := range s.toks {
		id, typo := x.resolve(s.buf[t.start:t.end], t, &why)
		s.ids = append(s.ids, id)
		s.typo = append(s.typo, typo)
	}
	// Collect the distinct terms: phrases first (over the words in order), then words.
	s.qterms = s.qterms[:0]
	s.seq = s.seq[:0]
	var denom float64
	unknown := 0.0
	addTerm := func(canon int32, weight float64) {
		for i := range s.qterms {
			if s.qterms[i].term == canon {
				s.qterms[i].weight = max(s.qterms[i].weight, weight)
				return
			}
		}
		s.qterms = append(s.qterms, qterm{term: canon, weight: weight, group: x.isGroup[canon]})
	}
	// The words of the question in order, without the joined forms of hyphenated words.
	for i, t := range s.toks {
		if t.joined || s.ids[i] == -2 {
			continue
		}
		s.seq = append(s.seq, int32(i))
	}
	for i := 0; i < len(s.seq); {
		tok := s.seq[i]
		id := s.ids[tok]
		if id == -1 {
			unknown++
			if s.toks[tok].name || s.toks[tok].digits {
				unknown += p.NameWeight - 1
			}
			i++
			continue
		}
		if n, canon := x.matchPhraseAt(s, i); n > 0 {
			addTerm(canon, 1)
			i += n
			continue
		}
		w := 1.0
		if s.typo[tok] == 1 {
			w = p.TypoWeight
		}
		addTerm(x.canon[id], w)
		i++
	}
	for i, t := range s.toks {
		if t.joined && s.ids[i] >= 0 {
			w := 1.0
			if s.typo[i] == 1 {
				w = p.TypoWeight
			}
			addTerm(x.canon[s.ids[i]], w)
		}
	}
	// Known terms that no entry uses count as unknown: the question is about something
	// the answers do not cover.
	k := 0
	for _, q := range s.qterms {
		if x.idf[q.term] == 0 {
			unknown++
			continue
		}
		s.qterms[k] = q
		k++
		denom += q.weight * x.idf[q.term]
		if q.group {
			why.Synonyms = append(why.Synonyms, x.names[q.term])
		}
	}
	s.qterms = s.qterms[:k]
	denom += unknown * p.UnknownWeight * x.idfMax
	if len(s.qterms) == 0 || denom == 0 {
		return 0, why
	}
	if cap(s.scores) < x.numDocs {
		s.scores = make([]float64, x.numDocs)
	}
	s.scores = s.scores[:x.numDocs]
	s.touched = s.touched[:0]
	for _, q := range s.qterms {
		for _, ps := range x.postings[q.term] {
			if s.scores[ps.doc] == 0 {
				s.touched = append(s.touched, ps.doc)
			}
			s.scores[ps.doc] += q.weight * float64(ps.w)
		}
	}
	wantsNumber := asksForNumber(s.buf, s.toks)
	n := 0
	for _, d := range s.touched {
		sc := s.scores[d] / denom // unclipped, so strong matches still rank apart
		if wantsNumber && !x.hasNumber[d] {
			sc *= p.NumberPenalty
		}
		s.scores[d] = 0
		r := ranked{doc: d, score: sc}
		// Insert into top, kept sorted by score and then entry order.
		pos := n
		for pos > 0 && better(r, top[pos-1]) {
			pos--
		}
		if pos >= len(top) {
			continue
		}
		if n < len(top) {
			n++
		}
		copy(top[pos+1:n], top[pos:n-1])
		top[pos] = r
	}
	return n, why
}

func better(a, b ranked) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.doc < b.doc
}

// matchPhraseAt matches a synonym phrase starting at word i of the question.
func (x *index) matchPhraseAt(s *scratch, i int) (int, int32) {
	first := s.ids[s.seq[i]]
	ps := x.phrases[first]
	for _, p := range ps {
		if i+len(p.terms) > len(s.seq) {
			continue
		}
		ok := true
		for j, t := range p.terms {
			if s.ids[s.seq[i+j]] != t {
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

// resolve finds the term of one word of a question: -2 for a word that is dropped
// (a stop word, a single letter), -1 for a word the knowledge base does not know.
// Known words take the fast path, a map lookup that does not allocate.
func (x *index) resolve(w []byte, t token, why *Why) (int32, int8) {
	if x.an.stop[string(w)] || (len(w) < 2 && !t.digits) {
		return -2, 0
	}
	if id, ok := x.surfaces[string(w)]; ok {
		return id, 0
	}
	if t.digits {
		if id, ok := x.terms[string(w)]; ok {
			return id, 0
		}
		if !t.joined {
			why.Unknown = append(why.Unknown, string(w))
		}
		return -1, 0
	}
	if id, ok := x.terms[x.stems.get(w)]; ok {
		return id, 0
	}
	if x.an.IsKnownWord(string(w)) {
		why.Unknown = append(why.Unknown, string(w))
		return -1, 0
	}
	if tw, _, ok := x.typos.correct(w); ok {
		why.Corrections = append(why.Corrections, Correction{From: string(w), To: tw.surface})
		return tw.term, 1
	}
	if !t.joined {
		why.Unknown = append(why.Unknown, string(w))
	}
	return -1, 0
}

// matched lists the question's terms that entry doc contains.
func (x *index) matched(qs []qterm, doc int32) []string {
	var out []string
	for _, q := range qs {
		ps := x.postings[q.term]
		if _, ok := slices.BinarySearchFunc(ps, doc, func(p posting, d int32) int { return int(p.doc - d) }); ok {
			if out == nil {
				out = make([]string, 0, len(qs))
			}
			out = append(out, x.names[q.term])
		}
	}
	return out
}

// Terms returns the terms the matcher reads in text, after analysis, typo correction and
// synonyms, in order of first appearance. Synonyms show as their group's first member.
// It is for tests and for admins checking why two wordings do or do not match.
func (kb *KB) Terms(text string) []string {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	var top [1]ranked
	kb.search(s, text, top[:])
	out := make([]string, 0, len(s.qterms))
	for _, q := range s.qterms {
		out = append(out, kb.idx.names[q.term])
	}
	return out
}

// asksForNumber reports whether a question asks for a quantity or a date: "how many",
// "how much", "how old", "how long", "when", "what year". An answer that states no
// number cannot answer it, which is how questions like "How old is the author?" or
// "When is the next summit?" are told apart from the article's topics they name.
func asksForNumber(buf []byte, toks []token) bool {
	for i, t := range toks {
		w := string(buf[t.start:t.end])
		switch w {
		case "when":
			return true
		case "how":
			if i+1 < len(toks) {
				switch string(buf[toks[i+1].start:toks[i+1].end]) {
				case "many", "much", "old", "long", "big", "large", "far", "often", "soon":
					return true
				}
			}
		case "year", "date", "years":
			if i > 0 {
				switch string(buf[toks[i-1].start:toks[i-1].end]) {
				case "what", "which":
					return true
				}
			}
		}
	}
	return false
}
