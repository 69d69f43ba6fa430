package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// These tests check the Kubernetes manifests, the NATS Helm values and their
// agreement with the service's documented options by parsing the files: there
// is no cluster or Helm here. kustomize is modelled only as far as the overlays
// use it (resources, strategic-merge patches by kind and name, images,
// replicas), and TestK8sKustomizeRender checks that model against the real
// kustomize, run through its Go API.

const (
	k8sDir      = "k8s"
	baseDir     = "k8s/base"
	overlayDir  = "k8s/overlays/example"
	appName     = "maventa-events"
	webhookPath = "/webhooks/maventa"
)

// --- small helpers over decoded YAML --------------------------------------

type object struct {
	file string
	m    map[string]any
}

func (o object) kind() string { return str(o.m["kind"]) }
func (o object) name() string { return str(get(o.m, "metadata", "name")) }
func (o object) String() string {
	return fmt.Sprintf("%s/%s (%s)", o.kind(), o.name(), o.file)
}

// get walks maps by string key and lists by int index; nil when absent.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return n
}

func intOf(t *testing.T, v any) int {
	t.Helper()
	switch x := v.(type) {
	case int:
		return x
	case string:
		return atoi(t, x)
	}
	t.Fatalf("%v (%T) is not an integer", v, v)
	return 0
}

// decodeAll decodes every document of a (possibly multi-document) YAML file.
func decodeAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil { // an empty document between two "---"
			docs = append(docs, m)
		}
	}
}

// kustomization is one kustomization.yaml with what it builds: the objects of its
// resources (recursively, unpatched) and its patches.
type kustomization struct {
	dir     string
	k       map[string]any
	objects []object
	patches []object
}

// loadKustomization reads dir/kustomization.yaml, failing when a resource or
// patch file it names does not exist.
func loadKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	docs := decodeAll(t, filepath.Join(dir, "kustomization.yaml"))
	if len(docs) != 1 {
		t.Fatalf("%s/kustomization.yaml: %d documents", dir, len(docs))
	}
	ks := kustomization{dir: dir, k: docs[0]}
	if str(ks.k["kind"]) != "Kustomization" || !strings.HasPrefix(str(ks.k["apiVersion"]), "kustomize.config.k8s.io/") {
		t.Errorf("%s/kustomization.yaml: apiVersion/kind %v/%v", dir, ks.k["apiVersion"], ks.k["kind"])
	}
	for _, key := range []string{"bases", "patchesStrategicMerge", "patchesJson6902", "commonLabels", "vars"} {
		if _, ok := ks.k[key]; ok {
			t.Errorf("%s/kustomization.yaml uses deprecated field %q", dir, key)
		}
	}
	for _, r := range list(ks.k["resources"]) {
		p := filepath.Join(dir, str(r))
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: resource %q: %v", dir, r, err)
			continue
		}
		if fi.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "kustomization.yaml")); err != nil {
				t.Errorf("%s: resource directory %q has no kustomization.yaml", dir, r)
				continue
			}
			ks.objects = append(ks.objects, loadKustomization(t, p).build(t)...)
			continue
		}
		for _, m := range decodeAll(t, p) {
			ks.objects = append(ks.objects, object{file: p, m: m})
		}
	}
	for _, pt := range list(ks.k["patches"]) {
		path := str(get(pt, "path"))
		if path == "" {
			t.Errorf("%s: patch without a file: %v", dir, pt)
			continue
		}
		p := filepath.Join(dir, path)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: patch %q: %v", dir, path, err)
			continue
		}
		for _, m := range decodeAll(t, p) {
			ks.patches = append(ks.patches, object{file: p, m: m})
		}
	}
	return ks
}

// build applies what this test models of kustomize: strategic-merge patches as
// deep map merges (lists replaced), images, replicas and namespace.
func (ks kustomization) build(t *testing.T) []object {
	t.Helper()
	out := make([]object, len(ks.objects))
	for i, o := range ks.objects {
		out[i] = object{file: o.file, m: deepCopy(o.m).(map[string]any)}
	}
	for _, p := range ks.patches {
		i := slices.IndexFunc(out, func(o object) bool { return o.kind() == p.kind() && o.name() == p.name() })
		if i < 0 {
			t.Errorf("%s: patch target %s is not among the resources", ks.dir, p)
			continue
		}
		out[i].m = merge(out[i].m, p.m)
	}
	for _, im := range list(ks.k["images"]) {
		name, found := str(get(im, "name")), false
		for _, o := range out {
			for _, c := range list(get(o.m, "spec", "template", "spec", "containers")) {
				img := str(get(c, "image"))
				if img == name || strings.HasPrefix(img, name+":") {
					found = true
					newName := str(get(im, "newName"))
					if newName == "" {
						newName = name
					}
					mapOf(c)["image"] = newName + ":" + str(get(im, "newTag"))
				}
			}
		}
		if !found {
			t.Errorf("%s: images entry %q matches no container image", ks.dir, name)
		}
	}
	for _, r := range list(ks.k["replicas"]) {
		i := slices.IndexFunc(out, func(o object) bool { return o.kind() == "Deployment" && o.name() == str(get(r, "name")) })
		if i < 0 {
			t.Errorf("%s: replicas entry %v matches no Deployment", ks.dir, r)
			continue
		}
		mapOf(out[i].m["spec"])["replicas"] = get(r, "count")
	}
	if ns := str(ks.k["namespace"]); ns != "" {
		for _, o := range out {
			if o.kind() == "Namespace" {
				mapOf(o.m["metadata"])["name"] = ns
			} else {
				mapOf(o.m["metadata"])["namespace"] = ns
			}
		}
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

func merge(dst, patch map[string]any) map[string]any {
	for k, pv := range patch {
		if pm, ok := pv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, pm)
				continue
			}
		}
		dst[k] = deepCopy(pv)
	}
	return dst
}

func one(t *testing.T, objs []object, kind string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.kind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, have %v", kind, found)
	}
	return found[0]
}

// container returns the Deployment's maventa-events container.
func container(t *testing.T, dep object) map[string]any {
	t.Helper()
	for _, c := range list(get(dep.m, "spec", "template", "spec", "containers")) {
		if str(get(c, "name")) == appName {
			return mapOf(c)
		}
	}
	t.Fatalf("%s has no container %q", dep, appName)
	return nil
}

// containerPort resolves a probe or Service port (name or number) to the
// container's port number; 0 when the container does not declare it.
func containerPort(c map[string]any, port any) int {
	for _, p := range list(c["ports"]) {
		n, _ := get(p, "containerPort").(int)
		if str(get(p, "name")) == str(port) || str(n) == str(port) {
			return n
		}
	}
	return 0
}

func listenPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return atoi(t, p)
}

// --- tests -------------------------------------------------------------------

func TestK8sYAMLParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		n++
		docs := decodeAll(t, path)
		if len(docs) == 0 {
			t.Errorf("%s: no document", path)
		}
		for _, m := range docs {
			o := object{file: path, m: m}
			if str(m["apiVersion"]) == "" || o.kind() == "" {
				t.Errorf("%s: document without apiVersion/kind", path)
			}
			if o.kind() != "Kustomization" && o.name() == "" {
				t.Errorf("%s: %s without metadata.name", path, o.kind())
			}
			// Secrets are created by the operator (deploy/README.md), never committed.
			if o.kind() == "Secret" {
				t.Errorf("%s: contains a Secret", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d YAML files under %s", n, k8sDir)
	}
}

func TestK8sKustomizationsResolve(t *testing.T) {
	n := 0
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "kustomization.yaml" {
			return err
		}
		n++
		ks := loadKustomization(t, filepath.Dir(path)) // fails on missing files
		objs := ks.build(t)                            // fails on unmatched patches/images/replicas
		if len(objs) == 0 {
			t.Errorf("%s builds nothing", path)
		}
		seen := map[string]bool{}
		for _, o := range objs {
			id := o.kind() + "/" + o.name()
			if seen[id] {
				t.Errorf("%s: %s defined twice", path, id)
			}
			seen[id] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("found %d kustomization.yaml files, want base and overlay", n)
	}
}

func TestK8sBaseKinds(t *testing.T) {
	objs := loadKustomization(t, baseDir).build(t)
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"} {
		one(t, objs, kind)
	}
	for _, o := range objs {
		if o.kind() == "Ingress" {
			t.Errorf("the base exposes %s; Ingress belongs in an overlay", o)
		}
	}
}

func TestK8sDeployment(t *testing.T) {
	objs := loadKustomization(t, baseDir).build(t)
	dep := one(t, objs, "Deployment")
	cm := one(t, objs, "ConfigMap")
	c := container(t, dep)
	pod := mapOf(get(dep.m, "spec", "template", "spec"))
	data := mapOf(cm.m["data"])

	// The container loads the ConfigMap, and its listen addresses are the
	// declared ports.
	usesCM := false
	for _, e := range list(c["envFrom"]) {
		if str(get(e, "configMapRef", "name")) == cm.name() {
			usesCM = true
		}
	}
	if !usesCM {
		t.Errorf("container does not load ConfigMap %s", cm.name())
	}
	webhookPort := listenPort(t, str(data["LISTEN_ADDR"]))
	adminPort := listenPort(t, str(data["ADMIN_LISTEN"]))
	if containerPort(c, "http") != webhookPort || containerPort(c, "admin") != adminPort || webhookPort == adminPort {
		t.Errorf("ports %v do not match LISTEN_ADDR %v / ADMIN_LISTEN %v", c["ports"], data["LISTEN_ADDR"], data["ADMIN_LISTEN"])
	}
	if h, _, _ := net.SplitHostPort(str(data["LISTEN_ADDR"])); h != "" && h != "0.0.0.0" {
		t.Errorf("LISTEN_ADDR %v is not reachable from outside the pod", data["LISTEN_ADDR"])
	}
	// External NATS: no embedded server, so no data directory is needed.
	if str(data["NATS_URL"]) == "" {
		t.Error("NATS_URL not set: the service would start an embedded server")
	}

	// Probes: /readyz for readiness, /healthz for liveness, on the webhook port.
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		hg := get(c, probe, "httpGet")
		if str(get(hg, "path")) != path {
			t.Errorf("%s path %v, want %s", probe, get(hg, "path"), path)
		}
		if p := containerPort(c, get(hg, "port")); p == 0 || p != webhookPort {
			t.Errorf("%s port %v is not the declared webhook port %d", probe, get(hg, "port"), webhookPort)
		}
	}

	// Non-root, read-only root filesystem, no privilege escalation.
	psc, csc := mapOf(pod["securityContext"]), mapOf(c["securityContext"])
	if psc["runAsNonRoot"] != true && csc["runAsNonRoot"] != true {
		t.Error("runAsNonRoot not set")
	}
	for _, sc := range []map[string]any{psc, csc} {
		if u, ok := sc["runAsUser"]; ok && intOf(t, u) == 0 {
			t.Error("runAsUser 0")
		}
	}
	if csc["readOnlyRootFilesystem"] != true || csc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext %v", csc)
	}
	if !slices.Contains(list(get(csc, "capabilities", "drop")), any("ALL")) {
		t.Error("capabilities not dropped")
	}

	// Graceful shutdown: the grace period covers preStop + SHUTDOWN_TIMEOUT.
	grace := intOf(t, pod["terminationGracePeriodSeconds"])
	shutdown, err := time.ParseDuration(str(data["SHUTDOWN_TIMEOUT"]))
	if err != nil {
		t.Fatalf("SHUTDOWN_TIMEOUT: %v", err)
	}
	preStop := 0
	if s := get(c, "lifecycle", "preStop", "sleep", "seconds"); s != nil {
		preStop = intOf(t, s)
	}
	if grace <= 25 || time.Duration(grace)*time.Second <= shutdown+time.Duration(preStop)*time.Second {
		t.Errorf("terminationGracePeriodSeconds %d does not exceed preStop %ds + SHUTDOWN_TIMEOUT %v", grace, preStop, shutdown)
	}

	// Memory sized for 64-128 MiB; CPU requested (the HPA needs it).
	for _, k := range []string{"requests", "limits"} {
		if str(get(c, "resources", k, "memory")) == "" {
			t.Errorf("no memory %s", k)
		}
	}
	if str(get(c, "resources", "requests", "cpu")) == "" {
		t.Error("no CPU request: the CPU HorizontalPodAutoscaler cannot work")
	}

	// Every mount has a volume; the file paths given to the service are inside
	// the secret volumes that provide them.
	volumes := map[string]map[string]any{}
	for _, v := range list(pod["volumes"]) {
		volumes[str(get(v, "name"))] = mapOf(v)
	}
	mounts := map[string]string{} // mountPath -> volume name
	for _, m := range list(c["volumeMounts"]) {
		name := str(get(m, "name"))
		if volumes[name] == nil {
			t.Errorf("volumeMount %q has no volume", name)
		}
		mounts[str(get(m, "mountPath"))] = name
	}
	if v := volumes[mounts["/tmp"]]; v == nil || v["emptyDir"] == nil {
		t.Error("no emptyDir at /tmp for the read-only root filesystem")
	}
	env := map[string]map[string]any{}
	for _, e := range list(c["env"]) {
		env[str(get(e, "name"))] = mapOf(e)
	}
	for _, name := range []string{"MAVENTA_CREDENTIALS_FILE", "NATS_CREDS"} {
		p := str(get(env[name], "value"))
		v := volumes[mounts[filepath.Dir(p)]]
		if v == nil || get(v, "secret", "secretName") == nil {
			t.Errorf("%s=%q is not in a mounted secret volume", name, p)
			continue
		}
		found := false
		for _, it := range list(get(v, "secret", "items")) {
			found = found || str(get(it, "path")) == filepath.Base(p)
		}
		if !found {
			t.Errorf("%s=%q: the secret volume does not project %s", name, p, filepath.Base(p))
		}
	}
	for _, name := range []string{"WEBHOOK_SECRETS", "MAVENTA_VENDOR_API_KEY"} {
		if get(env[name], "valueFrom", "secretKeyRef", "name") == nil {
			t.Errorf("%s does not come from a Secret", name)
		}
		if _, inCM := data[name]; inCM {
			t.Errorf("%s is in the ConfigMap", name)
		}
	}
}

// TestK8sSecretsDocumented checks that every Secret name and key the Deployment
// uses is created by a `kubectl create secret generic` command in deploy/README.md.
func TestK8sSecretsDocumented(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(raw), "\\\n", " ")
	created := map[string]map[string]bool{}
	cmdRE := regexp.MustCompile(`create secret generic ([a-z0-9-]+)([^\n]*)`)
	keyRE := regexp.MustCompile(`--from-(?:literal|file)=([A-Za-z0-9_.-]+)=`)
	for _, m := range cmdRE.FindAllStringSubmatch(joined, -1) {
		created[m[1]] = map[string]bool{}
		for _, k := range keyRE.FindAllStringSubmatch(m[2], -1) {
			created[m[1]][k[1]] = true
		}
	}
	dep := one(t, loadKustomization(t, baseDir).build(t), "Deployment")
	c := container(t, dep)
	need := map[[2]string]bool{}
	for _, e := range list(c["env"]) {
		if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
			need[[2]string{str(get(ref, "name")), str(get(ref, "key"))}] = true
		}
	}
	for _, v := range list(get(dep.m, "spec", "template", "spec", "volumes")) {
		for _, it := range list(get(v, "secret", "items")) {
			need[[2]string{str(get(v, "secret", "secretName")), str(get(it, "key"))}] = true
		}
	}
	if len(need) < 4 {
		t.Fatalf("only %d secret references found", len(need))
	}
	for ref := range need {
		if !created[ref[0]][ref[1]] {
			t.Errorf("secret %s key %s is used but deploy/README.md does not create it (creates %v)", ref[0], ref[1], created)
		}
	}
}

func TestK8sWiring(t *testing.T) {
	objs := loadKustomization(t, baseDir).build(t)
	dep := one(t, objs, "Deployment")
	c := container(t, dep)
	podLabels := mapOf(get(dep.m, "spec", "template", "metadata", "labels"))
	selects := func(sel map[string]any) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	if !selects(mapOf(get(dep.m, "spec", "selector", "matchLabels"))) {
		t.Error("Deployment selector does not match its pod labels")
	}

	svc := one(t, objs, "Service")
	if !selects(mapOf(get(svc.m, "spec", "selector"))) {
		t.Error("Service selector does not match the pods")
	}
	svcPorts := map[string]int{}
	for _, p := range list(get(svc.m, "spec", "ports")) {
		target := containerPort(c, get(p, "targetPort"))
		if target == 0 {
			t.Errorf("Service port %v targets an undeclared container port", p)
		}
		svcPorts[str(get(p, "name"))] = target
	}
	webhookPort, adminPort := containerPort(c, "http"), containerPort(c, "admin")
	if svcPorts["http"] != webhookPort || svcPorts["admin"] != adminPort {
		t.Errorf("Service ports %v, want http->%d and admin->%d", svcPorts, webhookPort, adminPort)
	}
	if typ := str(get(svc.m, "spec", "type")); typ != "" && typ != "ClusterIP" {
		t.Errorf("Service type %s exposes the admin port outside the cluster", typ)
	}

	pdb := one(t, objs, "PodDisruptionBudget")
	if !selects(mapOf(get(pdb.m, "spec", "selector", "matchLabels"))) {
		t.Error("PodDisruptionBudget selects no pod")
	}
	hpa := one(t, objs, "HorizontalPodAutoscaler")
	if str(get(hpa.m, "spec", "scaleTargetRef", "kind")) != "Deployment" || str(get(hpa.m, "spec", "scaleTargetRef", "name")) != dep.name() {
		t.Error("HorizontalPodAutoscaler does not target the Deployment")
	}
	if str(get(hpa.m, "spec", "metrics", 0, "resource", "name")) != "cpu" {
		t.Error("HorizontalPodAutoscaler does not scale on CPU")
	}
	if lo, hi := intOf(t, get(hpa.m, "spec", "minReplicas")), intOf(t, get(hpa.m, "spec", "maxReplicas")); lo < 2 || hi < lo {
		t.Errorf("HPA replicas %d..%d", lo, hi)
	}

	// NetworkPolicy: webhook port from the ingress controller's namespace, admin
	// port from monitoring only; egress NATS, DNS, HTTPS.
	np := one(t, objs, "NetworkPolicy")
	if !selects(mapOf(get(np.m, "spec", "podSelector", "matchLabels"))) {
		t.Error("NetworkPolicy selects no pod")
	}
	types := list(get(np.m, "spec", "policyTypes"))
	if !slices.Contains(types, any("Ingress")) || !slices.Contains(types, any("Egress")) {
		t.Errorf("policyTypes %v", types)
	}
	ingress := map[int]string{} // port -> source namespace
	for _, rule := range list(get(np.m, "spec", "ingress")) {
		from := list(get(rule, "from"))
		ports := list(get(rule, "ports"))
		if len(from) == 0 || len(ports) == 0 {
			t.Errorf("ingress rule %v is open to every source or port", rule)
			continue
		}
		for _, p := range ports {
			for _, f := range from {
				ingress[intOf(t, get(p, "port"))] += str(get(f, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
			}
		}
	}
	if len(ingress) != 2 || ingress[webhookPort] == "" || !strings.Contains(ingress[adminPort], "monitoring") || strings.Contains(ingress[webhookPort], "monitoring") {
		t.Errorf("ingress %v, want %d from the ingress namespace and %d from monitoring", ingress, webhookPort, adminPort)
	}
	egress := map[string]bool{}
	for _, rule := range list(get(np.m, "spec", "egress")) {
		for _, p := range list(get(rule, "ports")) {
			egress[str(get(p, "protocol"))+"/"+str(get(p, "port"))] = true
		}
	}
	for _, want := range []string{"TCP/4222", "UDP/53", "TCP/53", "TCP/443"} {
		if !egress[want] {
			t.Errorf("egress lacks %s (has %v)", want, egress)
		}
	}
	if len(egress) != 4 {
		t.Errorf("egress allows more than NATS, DNS and HTTPS: %v", egress)
	}
}

func TestK8sOverlay(t *testing.T) {
	ks := loadKustomization(t, overlayDir)
	objs := ks.build(t)
	ns := str(ks.k["namespace"])
	if ns == "" || ns == "default" {
		t.Errorf("overlay namespace %q", ns)
	}
	if one(t, objs, "Namespace").name() != ns {
		t.Error("Namespace object differs from the overlay namespace")
	}
	dep := one(t, objs, "Deployment")
	c := container(t, dep)
	if img := str(c["image"]); !strings.Contains(img, "/") || strings.HasSuffix(img, ":") || strings.HasSuffix(img, ":latest") {
		t.Errorf("overlay image %q: want a registry path and a pinned tag", img)
	}
	replicas := intOf(t, get(dep.m, "spec", "replicas"))
	hpa := one(t, objs, "HorizontalPodAutoscaler")
	if lo := intOf(t, get(hpa.m, "spec", "minReplicas")); lo != replicas {
		t.Errorf("Deployment replicas %d but HPA minReplicas %d", replicas, lo)
	}

	data := mapOf(one(t, objs, "ConfigMap").m["data"])
	if str(data["STREAM_REPLICAS"]) != "3" {
		t.Errorf("STREAM_REPLICAS %v, want 3 for the 3-node cluster", data["STREAM_REPLICAS"])
	}
	for _, u := range strings.Split(str(data["NATS_URL"]), ",") {
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			t.Errorf("NATS_URL entry %q", u)
		}
	}
	// Helm release "nats" in namespace "nats" (deploy/README.md) serves on
	// Service "nats" port 4222.
	if !strings.Contains(str(data["NATS_URL"]), "nats.nats.svc") {
		t.Errorf("NATS_URL %v does not point at the Helm-installed cluster", data["NATS_URL"])
	}

	// The Ingress serves the webhook path only, over TLS, to the webhook port.
	ing := one(t, objs, "Ingress")
	if len(list(get(ing.m, "spec", "tls"))) == 0 || str(get(ing.m, "spec", "tls", 0, "secretName")) == "" {
		t.Error("Ingress without TLS")
	}
	if get(ing.m, "spec", "defaultBackend") != nil {
		t.Error("Ingress has a default backend: more than the webhook path would be exposed")
	}
	svc := one(t, objs, "Service")
	paths := 0
	for _, rule := range list(get(ing.m, "spec", "rules")) {
		for _, p := range list(get(rule, "http", "paths")) {
			paths++
			if str(get(p, "path")) != webhookPath || str(get(p, "pathType")) != "Exact" {
				t.Errorf("Ingress path %v %v, want Exact %s", get(p, "pathType"), get(p, "path"), webhookPath)
			}
			be := get(p, "backend", "service")
			if str(get(be, "name")) != svc.name() {
				t.Errorf("Ingress backend %v is not Service %s", be, svc.name())
			}
			port := get(be, "port", "name")
			if port == nil {
				port = get(be, "port", "number")
			}
			target := 0
			for _, sp := range list(get(svc.m, "spec", "ports")) {
				if str(get(sp, "name")) == str(port) || str(get(sp, "port")) == str(port) {
					target = containerPort(c, get(sp, "targetPort"))
				}
			}
			if target == 0 || target != containerPort(c, "http") {
				t.Errorf("Ingress backend port %v is not the webhook port", port)
			}
		}
	}
	if paths == 0 {
		t.Error("Ingress has no path")
	}
}

// documentedEnv returns the environment variables the service documents: the
// options table of docs/configuration.md (`| \`-flag\` | \`ENV\` |`).
func documentedEnv(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\|\\s*`-[a-z0-9-]+`\\s*\\|\\s*`([A-Z][A-Z0-9_]*)`\\s*\\|")
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			names[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Guard against a table the regexp no longer matches.
	if len(names) < 25 || !names["LISTEN_ADDR"] || !names["WEBHOOK_SECRETS"] || !names["STREAM_REPLICAS"] {
		t.Fatalf("docs/configuration.md options table parsed to %d names: %v", len(names), names)
	}
	return names
}

func envAllowed(documented map[string]bool, name string) bool {
	// OTEL_*: the OpenTelemetry SDK's standard variables. GOMEMLIMIT: read by the Go
	// runtime itself (soft memory limit under the container's limit).
	return documented[name] || strings.HasPrefix(name, "OTEL_") || name == "GOMEMLIMIT"
}

func TestEnvNamesDocumented(t *testing.T) {
	documented := documentedEnv(t)
	set := map[string]string{} // name -> where
	for _, dir := range []string{baseDir, overlayDir} {
		ks := loadKustomization(t, dir)
		for _, o := range append(ks.build(t), ks.patches...) {
			if o.kind() == "ConfigMap" {
				for k := range mapOf(o.m["data"]) {
					set[k] = o.file
				}
			}
			for _, c := range list(get(o.m, "spec", "template", "spec", "containers")) {
				for _, e := range list(get(c, "env")) {
					set[str(get(e, "name"))] = o.file
				}
			}
		}
	}
	if len(set) < 10 {
		t.Fatalf("only %d environment variables found in the manifests", len(set))
	}
	p := loadCompose(t, []string{"WEBHOOK_SECRETS=x"}, "observability")
	svc, err := p.GetService(appName)
	if err != nil {
		t.Fatal(err)
	}
	for k := range svc.Environment {
		set[k] = "docker-compose.yml"
	}
	for name, where := range set {
		if !envAllowed(documented, name) {
			t.Errorf("%s sets %s, which the service does not document", where, name)
		}
	}
}

func TestNATSHelmValues(t *testing.T) {
	docs := decodeAll(t, "nats/values.yaml")
	if len(docs) != 1 {
		t.Fatalf("nats/values.yaml: %d documents", len(docs))
	}
	v := docs[0]
	check := func(want any, path ...any) {
		t.Helper()
		if got := get(v, path...); got != want {
			t.Errorf("%v = %v, want %v", path, got, want)
		}
	}
	check(true, "config", "cluster", "enabled")
	check(3, "config", "cluster", "replicas")
	check(true, "config", "jetstream", "enabled")
	check(true, "config", "jetstream", "fileStore", "enabled")
	check(true, "config", "jetstream", "fileStore", "pvc", "enabled")
	check(true, "podDisruptionBudget", "enabled")
	check(true, "config", "resolver", "enabled")
	check("full", "config", "resolver", "merge", "type")
	if str(get(v, "config", "jetstream", "fileStore", "pvc", "size")) == "" {
		t.Error("no JetStream PVC size")
	}
	for _, k := range []string{"requests", "limits"} {
		if get(v, "container", "merge", "resources", k, "memory") == nil {
			t.Errorf("no NATS container memory %s", k)
		}
	}
	// Webhooks up to 1 MiB plus headers must fit in one NATS message.
	if mp := str(get(v, "config", "merge", "max_payload")); !strings.Contains(mp, "MB") {
		t.Errorf("max_payload %q: the 1 MB default is too small", mp)
	}
	// The service's credentials come from a creds file, so the cluster must not
	// also accept anonymous users.
	if get(v, "config", "merge", "no_auth_user") != nil || get(v, "config", "merge", "authorization") != nil {
		t.Error("values configure another auth scheme next to the operator JWTs")
	}
}

// TestK8sKustomizeRender runs `kustomize build` of the base and the overlay
// through the kustomize Go API (krusty, the library inside the kustomize and
// kubectl binaries), so a kustomization the real tool rejects fails here, and
// cross-checks this file's model of kustomize against what it renders.
func TestK8sKustomizeRender(t *testing.T) {
	for _, dir := range []string{baseDir, overlayDir} {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		out, err := resMap.AsYaml()
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		rendered := map[string]map[string]any{}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: rendered YAML: %v", dir, err)
			}
			o := object{m: m}
			rendered[o.kind()+"/"+o.name()] = m
		}
		model := loadKustomization(t, dir).build(t)
		if len(model) != len(rendered) {
			t.Errorf("%s: kustomize renders %d objects, the model %d", dir, len(rendered), len(model))
		}
		for _, o := range model {
			r, ok := rendered[o.kind()+"/"+o.name()]
			if !ok {
				t.Errorf("%s: kustomize does not render %s", dir, o)
				continue
			}
			for _, path := range [][]any{
				{"data"},
				{"metadata", "namespace"},
				{"spec", "replicas"},
				{"spec", "minReplicas"},
				{"spec", "template", "spec", "containers", 0, "image"},
				{"spec", "template", "spec", "containers", 0, "env"},
			} {
				if a, b := fmt.Sprint(get(o.m, path...)), fmt.Sprint(get(r, path...)); a != b {
					t.Errorf("%s %s %v: model %s, kustomize %s", dir, o, path, a, b)
				}
			}
		}
	}
}
