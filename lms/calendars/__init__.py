"""Course days in people's calendars: iCalendar files per run and per place, and a
personal feed URL (a secret, revocable token) that calendar apps subscribe to."""
