package knowledge

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/russian"
)

// MaxQueryBytes is how much of a question the matcher reads. Real questions are far
// shorter; the cap keeps a pasted megabyte from costing more than a normal question.
const MaxQueryBytes = 600

// Language selects the stemmer and stop words of an Analyzer.
type Language string

// Languages the analyzer knows. English is the only one with a knowledge base today;
// Russian is here so the analyzer's shape is proven for a second language.
const (
	English Language = "english"
	Russian Language = "russian"
)

// Analyzer turns text into the words the matcher compares: case-folded, split on
// punctuation, possessives removed, hyphenated words kept both split and joined, stop
// words dropped and the rest stemmed.
type Analyzer struct {
	lang Language
	stem func(string) string
	stop map[string]bool
}

// NewAnalyzer returns the analyzer for lang.
func NewAnalyzer(lang Language) (*Analyzer, error) {
	switch lang {
	case English:
		return &Analyzer{lang: lang, stem: func(w string) string {
			if s, ok := englishStemExceptions[w]; ok {
				return s
			}
			return english.Stem(w, true)
		}, stop: englishStop}, nil
	case Russian:
		return &Analyzer{lang: lang, stem: func(w string) string { return russian.Stem(w, true) }, stop: russianStop}, nil
	}
	return nil, fmt.Errorf("unknown language %q", lang)
}

// Language reports the analyzer's language.
func (a *Analyzer) Language() Language { return a.lang }

// IsStop reports whether a case-folded word carries no meaning for matching.
func (a *Analyzer) IsStop(w string) bool { return a.stop[w] }

// Stem returns the stem of a case-folded word.
func (a *Analyzer) Stem(w string) string { return a.stem(w) }

// token is one word of analysed text: a byte range of the scratch buffer. A hyphenated
// word gives its parts (part set) and then the whole word joined (joined set).
type token struct {
	start, end int32
	joined     bool
	part       bool
	digits     bool // contains a digit: never stemmed or typo-corrected
	// name is set for a capitalised word inside a sentence ("Iran" in "When did Iran
	// join?"): most likely a name, so a strong sign of the topic when unknown.
	name bool
}

// tokenize appends the case-folded words of s to buf and their ranges to toks. It reads
// at most max bytes of s and reports whether it stopped early. Invalid UTF-8, control
// characters, emoji and punctuation all separate words; nothing panics.
func tokenize(buf []byte, toks []token, s string, max int) ([]byte, []token, bool) {
	truncated := false
	if len(s) > max {
		// Cut at a rune boundary so the last word is not a broken rune.
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
		truncated = true
	}
	wordStart := -1     // start in buf of the current part, or -1 outside a word
	compoundStart := -1 // start in buf of the first part of a hyphenated word
	parts := 0
	digits := false
	partDigits := false
	sentenceStart := true // the next word starts a sentence
	capital := false      // the current word started with a capital letter
	flushPart := func() {
		if wordStart < 0 {
			return
		}
		if len(buf) > wordStart {
			toks = append(toks, token{start: int32(wordStart), end: int32(len(buf)), digits: partDigits, name: capital && !sentenceStart})
			parts++
		}
		wordStart = -1
		partDigits = false
	}
	endWord := func() {
		hadWord := wordStart >= 0 || compoundStart >= 0
		flushPart()
		if hadWord {
			sentenceStart = false
		}
		if compoundStart >= 0 && parts > 1 {
			// Mark the parts and add the joined word, which is the parts' bytes side by side.
			for i := len(toks) - parts; i < len(toks); i++ {
				toks[i].part = true
			}
			toks = append(toks, token{start: int32(compoundStart), end: int32(len(buf)), joined: true, digits: digits})
		}
		compoundStart = -1
		parts = 0
		digits = false
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			endWord()
			i++
			continue
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (wordStart >= 0 && unicode.Is(unicode.Mn, r)):
			if wordStart < 0 {
				wordStart = len(buf)
				if compoundStart < 0 {
					compoundStart = wordStart
					capital = unicode.IsUpper(r)
				}
			}
			if unicode.IsDigit(r) {
				digits, partDigits = true, true
			}
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		case isApostrophe(r) && wordStart >= 0:
			next, nsize := utf8.DecodeRuneInString(s[i+size:])
			if next == 's' || next == 'S' {
				after, _ := utf8.DecodeRuneInString(s[i+size+nsize:])
				if i+size+nsize >= len(s) || !unicode.IsLetter(after) {
					// A possessive: "Kazakhstan's" is "kazakhstan".
					endWord()
					i += size + nsize
					continue
				}
			}
			if !unicode.IsLetter(next) {
				endWord()
			}
			// Otherwise the apostrophe joins the word: "don't" is "dont".
		case isHyphen(r) && wordStart >= 0:
			next, _ := utf8.DecodeRuneInString(s[i+size:])
			if unicode.IsLetter(next) || unicode.IsDigit(next) {
				flushPart()
			} else {
				endWord()
			}
		default:
			endWord()
			if r == '.' || r == '?' || r == '!' || r == '\n' || r == ':' || r == '"' || r == '“' || r == '(' {
				sentenceStart = true
			}
		}
		i += size
	}
	endWord()
	return buf, toks, truncated
}

func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == 'ʼ' || r == '‘' || r == '`'
}

func isHyphen(r rune) bool {
	return r == '-' || r == '‐' || r == '‑' || r == '‒' || r == '–'
}

// IsKnownWord reports whether w is a real word of the language, which the typo
// corrector must leave alone: "export" is not a misspelt "expert", nor "president" a
// misspelt "presidency". Only English has a word list; other languages know no words.
func (a *Analyzer) IsKnownWord(w string) bool {
	if a.lang != English {
		return false
	}
	if _, ok := englishStemExceptions[w]; ok {
		return true
	}
	return englishWords()[w]
}

//go:embed dict/english-words.txt.gz
var englishWordsGz []byte

// englishWords is the English word list, read on first use: most processes that never
// see a typo never pay for it.
var englishWords = sync.OnceValue(func() map[string]bool {
	zr, err := gzip.NewReader(bytes.NewReader(englishWordsGz))
	if err != nil {
		panic(fmt.Sprintf("embedded word list: %v", err)) // built into the binary; a test reads it
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		panic(fmt.Sprintf("embedded word list: %v", err))
	}
	m := make(map[string]bool, bytes.Count(data, []byte("\n")))
	for _, w := range strings.Split(string(data), "\n") {
		if w != "" {
			m[w] = true
		}
	}
	return m
})

// stemCache remembers stems of words seen in questions but not in the knowledge base,
// so a word that people keep asking about is stemmed once. It is bounded: once full it
// stops growing, and lookups of new words simply stem again.
type stemCache struct {
	mu   sync.RWMutex
	m    map[string]string
	max  int
	stem func(string) string
}

func (c *stemCache) get(w []byte) string {
	c.mu.RLock()
	s, ok := c.m[string(w)]
	c.mu.RUnlock()
	if ok {
		return s
	}
	word := string(w)
	s = c.stem(word)
	c.mu.Lock()
	if len(c.m) < c.max {
		c.m[word] = s
	}
	c.mu.Unlock()
	return s
}

// englishStop lists the English words dropped from questions and answers: function words
// and the filler of chat questions ("tell me about", "please"). Words that carry meaning
// when the article lacks them, like "before" or "budget", are deliberately not here: an
// unmatched meaningful word is how the matcher notices a question the article does not
// answer.
var englishStop = toSet(
	"a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "both",
	"but", "by", "can", "could", "did", "do", "does", "doing", "done", "each", "for", "from",
	"had", "has", "have", "having", "he", "her", "hers", "him", "his", "how", "i", "if", "in",
	"into", "is", "it", "its", "itself", "just", "me", "my", "of", "on", "onto", "or", "our",
	"ours", "s", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their",
	"theirs", "them", "then", "there", "these", "they", "this", "those", "to", "too", "up",
	"us", "was", "we", "were", "what", "whats", "when", "where", "which", "while", "who",
	"whom", "whos", "why", "will", "with", "would", "you", "your", "yours", "shall", "may",
	"might", "must", "also", "please", "tell", "explain", "describe", "know", "say", "says",
	"said", "hi", "hello", "hey", "thanks", "thank", "ok", "okay", "pls", "plz", "u", "ur",
	"im", "ive", "id", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "there's",
	"mean", "means", "get", "got", "let", "lets", "want", "like", "give", "show", "find",
	"anything", "something", "thing", "things",
	"way", "ways", "much", "many", "very", "really", "one", "kind", "sort",
)

// englishStemExceptions keeps apart words that the Snowball stemmer makes one but that
// mean different things, as Lucene's stemmer override does: a question about a
// president (a person) is not about a presidency (an office), nor is a universal
// question about a university.
var englishStemExceptions = map[string]string{
	"president":  "president",
	"presidents": "president",
	"universal":  "universal",
	"universe":   "universe",
	"general":    "general",
	"generous":   "generous",
	"organ":      "organ",
	"organs":     "organ",
}

// russianStop is a short list of Russian function words, enough for the analyzer to be
// usable; a Russian knowledge base would tune it as the English one was.
var russianStop = toSet(
	"и", "в", "во", "не", "что", "он", "на", "я", "с", "со", "как", "а", "то", "все", "она",
	"так", "его", "но", "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "только", "ее",
	"мне", "было", "вот", "от", "меня", "еще", "нет", "о", "из", "ему", "когда", "ли", "если",
	"уже", "или", "ни", "быть", "был", "него", "до", "вас", "нибудь", "опять", "уж", "вам",
	"ведь", "там", "потом", "себя", "ничего", "ей", "может", "они", "тут", "где", "есть",
	"надо", "ней", "для", "мы", "тебя", "их", "чем", "была", "сам", "чтоб", "без", "будто",
	"чего", "раз", "тоже", "себе", "под", "будет", "ж", "тогда", "кто", "этот", "какой",
)

func toSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
