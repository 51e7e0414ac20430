package command

import (
	"testing"
	"time"
)

func TestMomentResolve(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	now := time.Date(2026, 12, 3, 13, 30, 0, 0, time.UTC) // 14:30 in Berlin
	tests := []struct {
		name string
		m    Moment
		loc  *time.Location
		want time.Time
	}{
		{"an instant is itself", Moment{At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}, berlin, time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)},
		{"an age counts back from now", Moment{Ago: 20 * time.Minute}, berlin, now.Add(-20 * time.Minute)},
		{"a wall-clock time is today's in the zone", Moment{Clock: "14:05"}, berlin, time.Date(2026, 12, 3, 13, 5, 0, 0, time.UTC)},
		{"a later wall-clock time is yesterday's", Moment{Clock: "23:50"}, berlin, time.Date(2026, 12, 2, 22, 50, 0, 0, time.UTC)},
		{"no zone is UTC", Moment{Clock: "13:00"}, nil, time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)},
		{"nothing given is the zero time", Moment{}, berlin, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Resolve(now, tt.loc); !got.Equal(tt.want) {
				t.Fatalf("Resolve = %v, want %v", got, tt.want)
			}
		})
	}
}
