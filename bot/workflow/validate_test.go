package workflow_test

import (
	"testing"

	"github.com/heraldops/herald/bot/workflow"
)

func TestValidateNamesEveryMissingDependency(t *testing.T) {
	err := (&workflow.Service{}).Validate()
	want := "workflow.Service is missing Audit, Broadcasts, Chat, Clock, Directory, Incidents, Planner, Relay"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}
