package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestAClusterTakesAReplicatedStreamAtOnce: a test may create an R3 stream
// as soon as StartCluster returns. Before StartCluster waited for the leader
// to see every peer, this failed now and then with "no suitable peers for
// placement, peer offline" (TestReplicasDivideTheCompaniesOnACluster in CI).
func TestAClusterTakesAReplicatedStreamAtOnce(t *testing.T) {
	c := StartCluster(t, 3)
	nc, err := nats.Connect(c.ClientURLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3}); err != nil {
		t.Fatalf("an R3 stream right after StartCluster: %v", err)
	}
}
