package main

import (
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// behaviour is what a container's process does once started.
type behaviour struct {
	// forever: it runs until stopped (a server, `sleep infinity`, a loop).
	forever bool
	// Otherwise it exits with exitCode after runFor.
	runFor   time.Duration
	exitCode int32
	// handlesSIGTERM: it exits 0 soon after SIGTERM (servers do). Shell
	// commands run as PID 1 have no handler, so the runtime kills them with
	// SIGKILL (137) when the grace period ends.
	handlesSIGTERM bool
}

// behaviourOf reads the container's command the way a real image would run
// it, for the simple shell commands tests and examples use.
func behaviourOf(c *corev1.Container) behaviour {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) == 0 && len(c.Args) == 0 {
		if shellDefault(c.Image) {
			// `sh` without a terminal reads EOF and exits 0.
			return behaviour{exitCode: 0}
		}
		return behaviour{forever: true, handlesSIGTERM: true}
	}
	if len(argv) >= 3 && isShell(argv[0]) && argv[1] == "-c" {
		return runScript(argv[2])
	}
	b, _ := runSimple(argv)
	return b
}

func isShell(arg0 string) bool {
	switch path.Base(arg0) {
	case "sh", "bash", "ash", "dash", "zsh":
		return true
	}
	return false
}

// runScript interprets `;`, `&&`, `||` and newlines between simple commands.
func runScript(script string) behaviour {
	if strings.Contains(script, "while ") || strings.Contains(script, "until ") || strings.Contains(script, "tail -f") {
		return behaviour{forever: true}
	}
	var total behaviour
	last := int32(0)
	op := ";"
	for _, part := range splitScript(script) {
		if part == ";" || part == "&&" || part == "||" {
			op = part
			continue
		}
		if (op == "&&" && last != 0) || (op == "||" && last == 0) {
			continue
		}
		b, exited := runSimple(strings.Fields(part))
		if b.forever {
			return behaviour{forever: true}
		}
		total.runFor += b.runFor
		last = b.exitCode
		if exited {
			break
		}
	}
	total.exitCode = last
	return total
}

// splitScript cuts a script into commands and the operators between them,
// keeping quoted text together.
func splitScript(script string) []string {
	var parts []string
	var cur strings.Builder
	quote := rune(0)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			parts = append(parts, s)
		}
		cur.Reset()
	}
	runes := []rune(script)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case r == ';' || r == '\n':
			flush()
			parts = append(parts, ";")
		case (r == '&' || r == '|') && i+1 < len(runes) && runes[i+1] == r:
			flush()
			parts = append(parts, string([]rune{r, r}))
			i++
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return parts
}

// runSimple gives one command's behaviour; exited is true for `exit`, which
// ends the script.
func runSimple(argv []string) (b behaviour, exited bool) {
	if len(argv) == 0 {
		return behaviour{}, false
	}
	name := path.Base(argv[0])
	switch name {
	case "exit":
		code := int64(0)
		if len(argv) > 1 {
			code, _ = strconv.ParseInt(argv[1], 10, 32)
		}
		return behaviour{exitCode: int32(code & 0xff)}, true
	case "true", ":":
		return behaviour{}, false
	case "false":
		return behaviour{exitCode: 1}, false
	case "sleep":
		if len(argv) < 2 {
			return behaviour{exitCode: 1}, false
		}
		d, ok := sleepDuration(argv[1])
		if !ok {
			return behaviour{forever: true}, false
		}
		return behaviour{runFor: d}, false
	case "sh", "bash", "ash", "dash":
		if len(argv) >= 3 && argv[1] == "-c" {
			return runScript(strings.Trim(strings.Join(argv[2:], " "), `'"`)), false
		}
		return behaviour{}, false
	case "echo", "printf", "date", "env", "printenv", "pwd", "hostname", "whoami", "id", "uname",
		"ls", "cat", "test", "[", "touch", "mkdir", "rm", "cp", "mv", "ln", "nslookup", "df", "du", "ps":
		return behaviour{}, false
	}
	// Anything else is taken for a server or worker that keeps running.
	return behaviour{forever: true, handlesSIGTERM: true}, false
}

// sleepDuration reads sleep's argument: seconds (fractions allowed) with an
// optional s/m/h/d suffix; `infinity` (or garbage) means forever.
func sleepDuration(arg string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(arg, "s"):
		arg = strings.TrimSuffix(arg, "s")
	case strings.HasSuffix(arg, "m"):
		arg, unit = strings.TrimSuffix(arg, "m"), time.Minute
	case strings.HasSuffix(arg, "h"):
		arg, unit = strings.TrimSuffix(arg, "h"), time.Hour
	case strings.HasSuffix(arg, "d"):
		arg, unit = strings.TrimSuffix(arg, "d"), 24*time.Hour
	}
	f, err := strconv.ParseFloat(arg, 64)
	// ParseFloat accepts "infinity"; anything beyond a year is forever too.
	if err != nil || f < 0 || f*float64(unit) > float64(365*24*time.Hour) {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
