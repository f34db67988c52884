package detect

import "bytes"

// checkTraversalLeadingStep fires on a value that starts with a parent
// directory step when the step cannot be an honest relative path: in the file
// name of an upload (a file name has no directory part), after a leading
// separator ("/../x"), or written the way evasions write it: with a
// backslash ("..\x"), Tomcat's "..;", or textual hex ("0x2e0x2e/"). A plain
// "../x" is left to the broader traversal-single-step rule. It runs on the
// path view and looks at the lower-case value for the evasion markers.
func checkTraversalLeadingStep(s *state, f field, v []byte) (int, int, bool) {
	i := 0
	if len(v) > 0 && v[0] == '/' {
		i = 1
	}
	if len(v) < i+2 || v[i] != '.' || v[i+1] != '.' || len(v) > i+2 && v[i+2] != '/' && v[i+2] != ';' {
		return 0, 0, false
	}
	if i == 1 || isUploadName(f) {
		return 0, len(v), true
	}
	low := s.view(viewLower)
	head := low[:min(len(low), 12)]
	if bytes.IndexByte(head, '\\') >= 0 || bytes.IndexByte(head, ';') >= 0 || bytes.Contains(head, []byte("0x")) {
		return 0, len(v), true
	}
	return 0, 0, false
}

// isUploadName reports the file name of a multipart part.
func isUploadName(f field) bool {
	name := f.name
	if f.nameb != nil {
		name = string(f.nameb)
	}
	return len(name) >= 9 && name[len(name)-9:] == ".filename"
}
