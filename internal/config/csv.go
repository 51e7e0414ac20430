package config

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// csvColumns are the recipients file's columns; id and phone are required,
// the others may be left out of the header.
var csvColumns = []string{"id", "name", "phone", "channel", "locale", "audiences"}

// loadCSV reads recipients_file, appending its rows to the recipients and
// recording, per audience index, the ids whose audiences column names it.
func (l *loader) loadCSV(audiences map[string]int, members map[int][]string) {
	name := strings.TrimSpace(l.cfg.RecipientsFile)
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	l.csvFile = path
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// The file is optional (ARCHITECTURE.md's example names one and must
		// load as it is): a missing file loads no rows, loudly.
		l.cfg.Warnings = append(l.cfg.Warnings, Problem{File: l.file, Line: l.lineOf("recipients_file"), Path: "recipients_file",
			Message: "no file " + name + ": no recipients loaded from it (the path is relative to the config file's folder)"})
		l.csvFailed = true
		return
	}
	if err != nil {
		l.addf(l.lineOf("recipients_file"), "recipients_file", "cannot read %s: %v", path, err)
		l.csvFailed = true
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" { // spreadsheet exports start with a BOM
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		l.csvFailed = true
	}
	if err == io.EOF {
		l.problem(path, 1, "", "empty file: the first row must be the header %s", strings.Join(csvColumns, ","))
		return
	}
	if err != nil {
		l.csvError(path, err)
		return
	}
	col := map[string]int{}
	bad := false
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup {
			l.problem(path, 1, "header", "column %q appears twice", h)
			bad = true
			continue
		}
		if !contains(csvColumns, h) {
			l.problem(path, 1, "header", "unknown column %q (the first row must be the header, with columns from %s)", h, strings.Join(csvColumns, ","))
			bad = true
			continue
		}
		col[h] = i
	}
	for _, need := range []string{"id", "phone"} {
		if _, ok := col[need]; !ok && !bad {
			l.problem(path, 1, "header", "no %q column (the first row must be the header, with columns from %s)", need, strings.Join(csvColumns, ","))
			bad = true
		}
	}
	if bad {
		l.csvFailed = true
		return
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return rec[i]
		}
		return ""
	}
	auds := l.cfg.Audiences
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			l.csvError(path, err)
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			l.problem(path, line, "", "%d fields, but the header has %d", len(rec), len(header))
			continue
		}
		rcp := Recipient{
			ID:      get(rec, "id"),
			Name:    get(rec, "name"),
			Phone:   get(rec, "phone"),
			Channel: get(rec, "channel"),
			Locale:  get(rec, "locale"),
		}
		o := origin{file: path, line: line}
		o.phoneOK = l.checkRecipient(&rcp, o)
		l.cfg.Recipients = append(l.cfg.Recipients, rcp)
		l.origins = append(l.origins, o)
		for _, a := range strings.Split(get(rec, "audiences"), ";") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			i, ok := audiences[a]
			if !ok {
				l.problem(path, line, "audiences", "unknown audience %q (define it under audiences in %s)", a, filepath.Base(l.file))
				continue
			}
			if rcp.ID != "" && i < len(auds) {
				members[i] = append(members[i], rcp.ID)
			}
		}
	}
}

func (l *loader) problem(file string, line int, path, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) csvError(path string, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		l.problem(path, pe.Line, "", "invalid CSV: %v", pe.Err)
		return
	}
	l.problem(path, 0, "", "cannot read: %v", err)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
