package autopilot

import "time"

// DeployRef is service@version+commit, the form the service correlates deploys by.
func DeployRef(service, version, commit string) string {
	if commit == "" {
		return service + "@" + version
	}
	return service + "@" + version + "+" + commit
}

// CIEventID is deploy-{service}-{env}-{version}-{commit}: deterministic, so re-running the CI step is
// idempotent. The env is part of it: the same build deployed to staging and then to prod is two deploys.
func CIEventID(service, env, version, commit string) string {
	return sanitizeID("deploy-" + service + "-" + orDash(env) + "-" + version + "-" + orDash(commit))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Deploy describes one deploy for CIDeployment.
type Deploy struct {
	Service, Version, Commit, Env, Domain string
	Status                                string // succeeded (default), failed, rolled_back
	Ref                                   string // default service@version+commit
	ID                                    string // default CIEventID
	Time                                  time.Time
}

// CIDeployment is the DeploymentEvent (data.source "ci") a CI step sends after a deploy.
func CIDeployment(d Deploy, now time.Time) Envelope {
	data := map[string]any{"service": d.Service, "version": d.Version, "source": "ci"}
	if d.Env != "" {
		data["env"] = d.Env
	}
	if d.Commit != "" {
		data["commit"] = d.Commit
	}
	data["deploy_ref"] = d.Ref
	if d.Ref == "" {
		data["deploy_ref"] = DeployRef(d.Service, d.Version, d.Commit)
	}
	data["status"] = d.Status
	if d.Status == "" {
		data["status"] = "succeeded"
	}
	if d.Domain != "" {
		data["domain"] = d.Domain
	}
	id := d.ID
	if id == "" {
		id = CIEventID(d.Service, d.Env, d.Version, d.Commit)
	}
	return Build(Event{Type: DeploymentEvent, Data: data, ID: id, Time: d.Time}, "svc://"+d.Service, now)
}

// StartupDeployment is the data of the once-per-process fallback DeploymentEvent (data.source
// "startup"). Without a version it is "unknown": the event still records that the service (re)started
// then, which is worth correlating; set AUTOPILOT_VERSION to make it a deploy the RCA can name.
func StartupDeployment(s Settings) map[string]any {
	version := s.Version
	if version == "" {
		version = "unknown"
	}
	data := map[string]any{"service": s.Service, "version": version, "source": "startup", "status": "succeeded"}
	if s.Env != "" {
		data["env"] = s.Env
	}
	if s.Commit != "" {
		data["commit"] = s.Commit
	}
	if s.Version != "" {
		data["deploy_ref"] = DeployRef(s.Service, version, s.Commit)
	}
	if s.Domain != "" {
		data["domain"] = s.Domain
	}
	return data
}
