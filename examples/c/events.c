/*
 * events: subscribe to engine events with a callback, cause some (load, tag and remove an
 * image), then close the subscription and print how many arrived.
 *
 * usage: events ARCHIVE DIR
 *   ARCHIVE  a `docker save` or OCI archive holding busybox:latest
 *   DIR      an empty directory for the engine's root (DIR/root) and state (DIR/state)
 *
 * While this libisula does not implement events yet (ISULA_UNIMPLEMENTED), the program says
 * so and still does the image operations.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <isula.h>

struct counter {
    pthread_mutex_t lock;
    int events;
};

/* Runs on a libisula thread: the JSON is only valid during the call. */
static void on_event(const char *event_json, void *user)
{
    struct counter *c = user;
    pthread_mutex_lock(&c->lock);
    c->events++;
    printf("event: %s\n", event_json);
    fflush(stdout);
    pthread_mutex_unlock(&c->lock);
}

static int fail(const char *what, isula_status st, char *err)
{
    fprintf(stderr, "%s failed: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARCHIVE DIR\n", argv[0]);
        return 2;
    }
    char config[4096];
    snprintf(config, sizeof config, "{\"graph\": \"%s/root\", \"state\": \"%s/state\"}", argv[2], argv[2]);

    isula_engine *engine = NULL;
    char *err = NULL, *json = NULL;
    isula_status st = isula_engine_open(config, &engine, &err);
    if (st != ISULA_OK) return fail("open", st, err);

    struct counter counter = { PTHREAD_MUTEX_INITIALIZER, 0 };
    isula_subscription *sub = NULL;
    st = isula_events_subscribe(engine, "{\"filters\": [\"type=image\"]}", on_event, &counter, &sub, &err);
    if (st == ISULA_UNIMPLEMENTED) {
        printf("events: not available in this libisula yet (%s); doing the image operations only\n", err);
        isula_string_free(err);
        err = NULL;
    } else if (st != ISULA_OK) {
        isula_engine_close(engine);
        return fail("subscribe", st, err);
    } else {
        printf("subscribed\n");
    }

    int rc = 1;
    st = isula_image_load(engine, argv[1], NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("load", st, err); goto out; }
    isula_string_free(json);
    st = isula_image_tag(engine, "busybox:latest", "events/busybox:1", &err);
    if (st != ISULA_OK) { rc = fail("tag", st, err); goto out; }
    st = isula_image_remove(engine, "events/busybox:1", NULL, NULL, &err);
    if (st != ISULA_OK) { rc = fail("untag", st, err); goto out; }
    st = isula_image_remove(engine, "busybox:latest", NULL, NULL, &err);
    if (st != ISULA_OK) { rc = fail("remove", st, err); goto out; }
    printf("image operations done\n");
    rc = 0;
out:
    isula_subscription_close(sub); /* NULL when subscribing failed: a no-op */
    pthread_mutex_lock(&counter.lock);
    printf("events received: %d\n", counter.events);
    pthread_mutex_unlock(&counter.lock);
    isula_engine_close(engine);
    return rc;
}
