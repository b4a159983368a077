package knowledge

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// benchQuestions is a mix like real traffic: full questions, keywords, typos, casual
// wording and questions the article does not answer.
var benchQuestions = []string{
	"When does Kazakhstan chair the SCO?",
	"who founded the shanghai cooperation organisation",
	"trans-caspian route",
	"turism",
	"What is Kazakhstan doing about terrorism and extremism?",
	"SCO Interbank Consortium",
	"whos the writer of this",
	"How do I install Python?",
	"enviromental sustainability and digital transformation",
	"What is the SCO's annual budget?",
	"cultural festivals and youth exchanges among member states",
	"qwerty",
}

func BenchmarkAnswer(b *testing.B) {
	kb, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range benchQuestions {
		kb.Answer(q) // warm the stem cache and the scratch pool, as a running server has
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kb.Answer(benchQuestions[i%len(benchQuestions)])
	}
}

// largeKB generates a knowledge base of n entries whose words follow a Zipf-like
// distribution over a vocabulary of real article words and made-up ones.
func largeKB(tb testing.TB, n int) fstest.MapFS {
	tb.Helper()
	base, err := Default()
	if err != nil {
		tb.Fatal(err)
	}
	vocab := strings.FieldsFunc(strings.ToLower(base.Article), func(r rune) bool { return !unicode.IsLetter(r) })
	for i := 0; i < 5000; i++ {
		vocab = append(vocab, fmt.Sprintf("term%dx", i))
	}
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	words := func(k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(w, " ")
	}
	files := fstest.MapFS{
		ArticleFile:  {Data: []byte(base.Article)},
		SynonymsFile: {Data: mustRead(tb, SynonymsFile)},
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("---\nid: e%05d\nsection: %s\ntitle: %s\nkeywords: [%s]\nquestions:\n  - %s\n  - %s\n---\n%s\n",
			i, Sections[i%len(Sections)].ID, words(6), strings.Join(strings.Fields(words(4)), ", "), words(8), words(8), words(60))
		files[fmt.Sprintf("e%05d.md", i)] = &fstest.MapFile{Data: []byte(body)}
	}
	return files
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := Embedded().(interface{ ReadFile(string) ([]byte, error) }).ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func BenchmarkAnswerLarge(b *testing.B) {
	kb, err := Load(largeKB(b, 10000))
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range benchQuestions {
		kb.Answer(q)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kb.Answer(benchQuestions[i%len(benchQuestions)])
	}
}

func BenchmarkLoad10k(b *testing.B) {
	files := largeKB(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(files); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadEmbedded(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Load(Embedded()); err != nil {
			b.Fatal(err)
		}
	}
}
