/*
 * events: subscribe to container events with a callback, run a container (`true`), then
 * close the subscription and print the events that arrived.
 *
 * usage: events ARCHIVE DIR
 *   ARCHIVE  a `docker save` or OCI archive holding busybox:latest
 *   DIR      an empty directory for the engine's root (DIR/root) and state (DIR/state)
 *
 * When this libisula does not implement events or containers yet (ISULA_UNIMPLEMENTED), the
 * program says so and does what it can.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <isula.h>

struct counter {
    pthread_mutex_t lock;
    int events;
    int destroyed;
};

/* Runs on a libisula thread: the JSON is only valid during the call. */
static void on_event(const char *event_json, void *user)
{
    struct counter *c = user;
    pthread_mutex_lock(&c->lock);
    c->events++;
    if (strstr(event_json, "\"Action\":\"destroy\"")) c->destroyed = 1;
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

/* create, start, wait, remove a container running `true`; 0 also when containers are unavailable. */
static int run_true(isula_engine *engine)
{
    char *err = NULL, *id = NULL;
    isula_status st = isula_container_create(
        engine, "{\"Image\": \"busybox:latest\", \"Cmd\": [\"true\"]}", &id, &err);
    if (st == ISULA_UNIMPLEMENTED) {
        printf("containers: not available in this libisula yet (%s)\n", err);
        isula_string_free(err);
        return 0;
    }
    if (st != ISULA_OK) return fail("create", st, err);
    int32_t code = -1;
    int rc = 0;
    if ((st = isula_container_start(engine, id, &err)) != ISULA_OK) rc = fail("start", st, err);
    else if ((st = isula_container_wait(engine, id, &code, &err)) != ISULA_OK) rc = fail("wait", st, err);
    if ((st = isula_container_remove(engine, id, "{\"Force\": true}", &err)) != ISULA_OK) rc = fail("remove", st, err);
    printf("container ran: exit code %d\n", code);
    isula_string_free(id);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARCHIVE DIR\n", argv[0]);
        return 2;
    }
    char config[4096];
    /* "bridge": "none": the container needs no network, so no default bridge is made. */
    snprintf(config, sizeof config, "{\"graph\": \"%s/root\", \"state\": \"%s/state\", \"bridge\": \"none\"}",
             argv[2], argv[2]);

    isula_engine *engine = NULL;
    char *err = NULL, *json = NULL;
    isula_status st = isula_engine_open(config, &engine, &err);
    if (st != ISULA_OK) return fail("open", st, err);

    int rc = 1;
    st = isula_image_load(engine, argv[1], NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("load", st, err); goto out_engine; }
    isula_string_free(json);

    struct counter counter = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    isula_subscription *sub = NULL;
    st = isula_events_subscribe(engine, "{\"type\": [\"container\"]}", on_event, &counter, &sub, &err);
    if (st == ISULA_UNIMPLEMENTED) {
        printf("events: not available in this libisula yet (%s)\n", err);
        isula_string_free(err);
        err = NULL;
    } else if (st != ISULA_OK) {
        rc = fail("subscribe", st, err);
        goto out_engine;
    } else {
        printf("subscribed\n");
    }

    rc = run_true(engine);

    /* events arrive on the library's thread: give the last one (destroy) up to 5 s */
    for (int i = 0; sub && i < 100; i++) {
        pthread_mutex_lock(&counter.lock);
        int done = counter.destroyed;
        pthread_mutex_unlock(&counter.lock);
        if (done) break;
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    isula_subscription_close(sub); /* NULL when subscribing failed: a no-op */
    pthread_mutex_lock(&counter.lock);
    printf("events received: %d\n", counter.events);
    pthread_mutex_unlock(&counter.lock);

    st = isula_image_remove(engine, "busybox:latest", NULL, NULL, &err);
    if (st != ISULA_OK) rc = fail("remove image", st, err);
    else printf("image removed\n");
out_engine:
    isula_engine_close(engine);
    return rc;
}
