package knowledge

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// ArticleFile is the name of the article's text in a knowledge base directory. Every
// entry's quote is checked against it.
const ArticleFile = "article.txt"

// KB is a loaded, validated knowledge base and its index. It is immutable: a reload
// builds a new KB, and questions in flight finish on the old one.
type KB struct {
	Entries  []*Entry // sorted by ID
	Version  string   // a hash of the files' contents, logged with every query
	Warnings []Problem
	Article  string

	byID map[string]*Entry
	idx  *index
}

// Entry returns the entry with the given id.
func (kb *KB) Entry(id string) (*Entry, bool) {
	e, ok := kb.byID[id]
	return e, ok
}

// EntriesInSection returns the entries of one section, in id order.
func (kb *KB) EntriesInSection(section string) []*Entry {
	var out []*Entry
	for _, e := range kb.Entries {
		if e.Section == section {
			out = append(out, e)
		}
	}
	return out
}

//go:embed kb
var embedded embed.FS

// Embedded returns the knowledge base files that ship inside the binary.
func Embedded() fs.FS {
	sub, err := fs.Sub(embedded, "kb")
	if err != nil {
		panic(err) // the path is a constant; this cannot happen
	}
	return sub
}

var (
	defaultOnce sync.Once
	defaultKB   *KB
	defaultErr  error
)

// Default returns the embedded knowledge base, loaded once.
func Default() (*KB, error) {
	defaultOnce.Do(func() { defaultKB, defaultErr = Load(Embedded()) })
	return defaultKB, defaultErr
}

// LoadDir loads the knowledge base in directory dir.
func LoadDir(dir string) (*KB, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open knowledge base: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open knowledge base: %s is not a directory", dir)
	}
	return Load(os.DirFS(dir))
}

// Load reads, validates and indexes a knowledge base: every *.md file in the top
// directory of fsys is an entry, synonyms.yaml the synonyms, article.txt the article.
// It returns a *LoadError listing every problem when any is an error, so a bad edit is
// never loaded; warnings alone are kept in KB.Warnings.
func Load(fsys fs.FS) (*KB, error) {
	return LoadParams(fsys, DefaultParams)
}

// file is an answer file read from a knowledge base, waiting to be parsed.
type file struct {
	name string
	data []byte
}

// LoadParams is Load with matcher parameters other than DefaultParams, for tuning.
func LoadParams(fsys fs.FS, p Params) (*KB, error) {
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, fmt.Errorf("list knowledge base: %w", err)
	}
	sort.Strings(names)
	var (
		probs    []Problem
		entries  []*Entry
		article  string
		synData  []byte
		haveSyns bool
		hash     = sha256.New()
		files    []file
	)
	for _, name := range names {
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue // editors' swap and backup files
		}
		isMD := path.Ext(name) == ".md"
		if !isMD && name != SynonymsFile && name != ArticleFile {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && strings.Contains(err.Error(), "is a directory") {
				continue
			}
			probs = append(probs, Problem{File: name, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		fmt.Fprintf(hash, "%s\x00%d\x00", name, len(data))
		hash.Write(data)
		switch {
		case name == SynonymsFile:
			synData, haveSyns = data, true
		case name == ArticleFile:
			article = string(data)
		case strings.EqualFold(name, "README.md"):
			// Admins may keep notes beside the answers.
		default:
			files = append(files, file{name, data})
		}
	}
	// Parsing the YAML is most of the cost of a large knowledge base, and files are
	// independent, so they are parsed on every core; results keep the files' order.
	parsed := make([]struct {
		e     *Entry
		probs []Problem
	}, len(files))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), max(1, len(files)/64))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += workers {
				parsed[i].e, parsed[i].probs = ParseEntry(files[i].name, files[i].data)
			}
		}()
	}
	wg.Wait()
	for _, p := range parsed {
		probs = append(probs, p.probs...)
		if p.e != nil {
			entries = append(entries, p.e)
		}
	}
	if article == "" {
		probs = append(probs, Problem{File: ArticleFile, Msg: "missing or empty: quotes cannot be checked against the article"})
	}
	if len(entries) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{File: ".", Msg: "no answer files (*.md) found"})
	}
	byID := map[string]*Entry{}
	normArticle := normalizeQuote(article)
	questions := map[string]string{}
	for _, e := range entries {
		if prev, dup := byID[e.ID]; dup {
			probs = append(probs, Problem{File: e.File, Line: 2, Msg: fmt.Sprintf("duplicate id %q, also used by %s", e.ID, prev.File)})
			continue
		}
		byID[e.ID] = e
		if want := e.ID + ".md"; e.File != want {
			probs = append(probs, Problem{File: e.File, Line: 2, Warning: true, Msg: fmt.Sprintf("id %q does not match the file name; name it %s", e.ID, want)})
		}
		if e.Quote != "" && article != "" && !strings.Contains(normArticle, normalizeQuote(e.Quote)) {
			probs = append(probs, Problem{File: e.File, Line: fieldLine(e, "quote"), Msg: "quote is not in the article; copy it word for word from article.txt"})
		}
		for _, q := range e.Questions {
			key := strings.Join(strings.Fields(strings.ToLower(q)), " ")
			if other, dup := questions[key]; dup && other != e.ID {
				probs = append(probs, Problem{File: e.File, Line: fieldLine(e, "questions"), Warning: true, Msg: fmt.Sprintf("question %q is also in entry %q; only one of them can win", q, other)})
			}
			questions[key] = e.ID
		}
	}
	an, err := NewAnalyzer(English)
	if err != nil {
		return nil, err
	}
	idx := newIndex(an, p)
	if haveSyns {
		groups, ps := ParseSynonyms(SynonymsFile, synData)
		probs = append(probs, ps...)
		probs = append(probs, idx.addSynonyms(SynonymsFile, groups)...)
	}
	sortProblems(probs)
	for _, pr := range probs {
		if !pr.Warning {
			return nil, &LoadError{Problems: probs}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	idx.build(entries)
	return &KB{
		Entries:  entries,
		Version:  hex.EncodeToString(hash.Sum(nil))[:12],
		Warnings: probs,
		Article:  article,
		byID:     byID,
		idx:      idx,
	}, nil
}

// fieldLine finds the line of a front matter field in an entry's file, for problems
// found after parsing. It is 2 when the field is not found: the first field's line.
func fieldLine(e *Entry, field string) int {
	if l, ok := e.lines[field]; ok {
		return l
	}
	return 2
}

// normalizeQuote makes the article and quotes comparable: typographic quotes become
// straight ones and runs of white space one space.
func normalizeQuote(s string) string {
	s = strings.NewReplacer("’", "'", "‘", "'", "“", "\"", "”", "\"", "–", "-", "—", "-").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// Export writes the files of fsys into dir, which must not hold any of them already
// unless force is set. It is how `scobot kb export` gives admins a starting point.
func Export(fsys fs.FS, dir string, force bool) ([]string, error) {
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, fmt.Errorf("list knowledge base: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if !force {
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return nil, fmt.Errorf("%s already exists; use --force to overwrite", filepath.Join(dir, name))
			}
		}
	}
	var written []string
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return written, fmt.Errorf("read %s: %w", name, err)
		}
		dst := filepath.Join(dir, name)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return written, fmt.Errorf("write %s: %w", dst, err)
		}
		written = append(written, dst)
	}
	return written, nil
}
