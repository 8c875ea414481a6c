package cacheproxy

import (
	"net/http"
	"strings"
	"time"
)

// HTTP dates, parsed strictly as RFC 9110 §5.6.7 defines them:
//
//	IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT     (what every sender must send)
//	rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT    (obsolete, accepted)
//	asctime      Sun Nov  6 08:49:37 1994          (obsolete, accepted)
//
// Anything else is invalid: a one-digit hour, runs of spaces, a day name
// that is not one or does not match the date, another time zone, a field
// given on several lines. The zone name "GMT" is matched without regard to
// case, as many caches do; day and month names are matched exactly.
// net/http's ParseTime is more lenient (it accepts "Sun, 6 Nov 1994 8:49:37
// GMT", a zone other than GMT, any day name), which would keep responses
// fresh that a conforming cache treats as expired (RFC 9111 §5.3: an invalid
// Expires means "already expired").

var (
	shortDays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays  = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months    = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// headerDate parses the single field line of name in h as an HTTP date.
// A missing field, one given on several lines, or an invalid date is not ok.
func headerDate(h http.Header, name string) (time.Time, bool) {
	lines := h[name]
	if len(lines) != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(lines[0])
}

// parseHTTPDate parses one HTTP date in any of the three forms.
func parseHTTPDate(s string) (time.Time, bool) {
	s = strings.Trim(s, " \t")
	if i := strings.IndexByte(s, ','); i >= 0 {
		day := s[:i]
		if d := indexOf(shortDays[:], day); d >= 0 {
			// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
			return dateFields(s[i+1:], " dd mmm yyyy hh:mm:ss GMT", d)
		}
		if d := indexOf(longDays[:], day); d >= 0 {
			// rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
			return dateFields(s[i+1:], " dd-mmm-yy hh:mm:ss GMT", d)
		}
		return time.Time{}, false
	}
	if len(s) == 24 {
		// asctime: "Sun Nov  6 08:49:37 1994"
		if d := indexOf(shortDays[:], s[:3]); d >= 0 {
			return dateFields(s[3:], " mmm _d hh:mm:ss yyyy", d)
		}
	}
	return time.Time{}, false
}

// dateFields reads s against layout, where d is a day digit, _ a space or a
// day digit, m a month letter, y a year digit, h, m (after the month), s
// time digits, and every other byte must match exactly ("GMT" in any case).
// weekday is the day name's index, checked against the date.
func dateFields(s, layout string, weekday int) (time.Time, bool) { //nolint:gocyclo // one switch over the layout's letters reads better than helpers split per field
	if len(s) != len(layout) {
		return time.Time{}, false
	}
	var day, year, hour, minute, sec, month int
	var monthName strings.Builder
	num := func(v *int, c byte) bool {
		if c < '0' || c > '9' {
			return false
		}
		*v = *v*10 + int(c-'0')
		return true
	}
	timePart := strings.Index(layout, "hh:mm:ss")
	for i := 0; i < len(layout); i++ {
		c, l := s[i], layout[i]
		ok := true
		switch {
		case i >= timePart && i < timePart+8 && l != ':':
			switch (i - timePart) / 3 {
			case 0:
				ok = num(&hour, c)
			case 1:
				ok = num(&minute, c)
			default:
				ok = num(&sec, c)
			}
		case l == 'd':
			ok = num(&day, c)
		case l == '_':
			ok = c == ' ' || num(&day, c)
		case l == 'y':
			ok = num(&year, c)
		case l == 'm':
			monthName.WriteByte(c)
		case l == 'G' || l == 'M' || l == 'T':
			ok = c == l || c == l+'a'-'A'
		default:
			ok = c == l
		}
		if !ok {
			return time.Time{}, false
		}
	}
	month = indexOf(months[:], monthName.String()) + 1
	if strings.Count(layout, "y") == 2 {
		// RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in
		// the past century.
		year += 2000
		if year > time.Now().Year()+50 {
			year -= 100
		}
	}
	if month == 0 || day < 1 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, min(sec, 59), 0, time.UTC)
	if t.Day() != day || int(t.Weekday()) != weekday {
		return time.Time{}, false // 31 Feb, or a day name that is not the date's
	}
	return t, true
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
