/*
 * pull: pull an image from a registry with a progress callback, then inspect and remove it.
 *
 * usage: pull REFERENCE DIR [INSECURE_REGISTRY]
 *   REFERENCE          e.g. 127.0.0.1:5000/test/busybox:latest
 *   DIR                an empty directory for the engine's root (DIR/root) and state (DIR/state)
 *   INSECURE_REGISTRY  host:port to reach over plain http (daemon.json "insecure-registries")
 */
#include <stdio.h>
#include <string.h>

#include <isula.h>

struct progress {
    int events;
    int done;
};

/* Runs on the calling thread, during isula_image_pull. */
static void on_progress(const char *event_json, void *user)
{
    struct progress *p = user;
    p->events++;
    if (strstr(event_json, "\"Done\"")) p->done++;
    printf("progress: %s\n", event_json);
}

static int fail(const char *what, isula_status st, char *err)
{
    fprintf(stderr, "%s failed: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s REFERENCE DIR [INSECURE_REGISTRY]\n", argv[0]);
        return 2;
    }
    char config[4096];
    snprintf(config, sizeof config,
             "{\"graph\": \"%s/root\", \"state\": \"%s/state\", \"insecure-registries\": [\"%s\"]}",
             argv[2], argv[2], argc == 4 ? argv[3] : "");

    isula_engine *engine = NULL;
    char *err = NULL, *json = NULL;
    isula_status st = isula_engine_open(config, &engine, &err);
    if (st != ISULA_OK) return fail("open", st, err);

    int rc = 1;
    struct progress progress = { 0, 0 };
    st = isula_image_pull(engine, argv[1], "{\"max_concurrent_downloads\": 2}", on_progress, &progress,
                          &json, &err);
    if (st != ISULA_OK) { rc = fail("pull", st, err); goto out; }
    printf("pulled: %s\n", json);
    printf("progress events: %d, layers done: %d\n", progress.events, progress.done);
    isula_string_free(json);

    st = isula_image_inspect(engine, argv[1], &json, &err);
    if (st != ISULA_OK) { rc = fail("inspect", st, err); goto out; }
    printf("inspect: %.*s...\n", 100, json);
    isula_string_free(json);

    st = isula_image_remove(engine, argv[1], NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("remove", st, err); goto out; }
    printf("removed: %s\n", json);
    isula_string_free(json);
    rc = 0;
out:
    isula_engine_close(engine);
    return rc;
}
