"""The release calendar: month, week and agenda views of releases, freezes and change windows,
and the secret-token iCalendar feeds that calendar clients subscribe to."""
