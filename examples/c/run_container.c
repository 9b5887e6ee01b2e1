/*
 * run_container: the `docker run --rm busybox echo hello` flow through libisula.
 * Opens an engine, loads busybox from an archive, creates and starts a container running
 * `echo hello`, waits for it, prints its logs, removes it and the image.
 *
 * usage: run_container ARCHIVE DIR
 *   ARCHIVE  a `docker save` or OCI archive holding busybox:latest
 *   DIR      an empty directory for the engine's root (DIR/root) and state (DIR/state)
 *
 * While this libisula does not implement containers yet (ISULA_UNIMPLEMENTED), the program
 * says so, skips the container part and still does the image part.
 */
#include <stdio.h>
#include <stdlib.h>

#include <isula.h>

static int fail(const char *what, isula_status st, char *err)
{
    fprintf(stderr, "%s failed: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    return 1;
}

/* create, start, wait, logs, remove; returns 0 on success or when containers are unavailable. */
static int run_echo(isula_engine *engine)
{
    char *err = NULL, *id = NULL, *json = NULL;
    isula_status st = isula_container_create(
        engine, "{\"Image\": \"busybox:latest\", \"Cmd\": [\"echo\", \"hello\"]}", &id, &err);
    if (st == ISULA_UNIMPLEMENTED) {
        printf("containers: not available in this libisula yet (%s); skipping create/start/wait/logs/rm\n", err);
        isula_string_free(err);
        return 0;
    }
    if (st != ISULA_OK) return fail("create", st, err);
    printf("created: %s\n", id);

    int rc = 1;
    int32_t code = -1;
    st = isula_container_start(engine, id, &err);
    if (st != ISULA_OK) { rc = fail("start", st, err); goto remove; }
    st = isula_container_wait(engine, id, &code, &err);
    if (st != ISULA_OK) { rc = fail("wait", st, err); goto remove; }
    printf("exit code: %d\n", code);
    st = isula_container_logs(engine, id, NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("logs", st, err); goto remove; }
    printf("logs: %s\n", json);
    isula_string_free(json);
    rc = code == 0 ? 0 : 1;
remove:
    st = isula_container_remove(engine, id, "{\"Force\": true}", &err);
    if (st != ISULA_OK) rc = fail("remove container", st, err);
    else printf("container removed\n");
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
    if (st != ISULA_OK) { rc = fail("load", st, err); goto out; }
    printf("loaded: %s\n", json);
    isula_string_free(json);

    rc = run_echo(engine);

    st = isula_image_remove(engine, "busybox:latest", NULL, NULL, &err);
    if (st != ISULA_OK) { rc = fail("remove image", st, err); goto out; }
    printf("image removed\n");
out:
    isula_engine_close(engine);
    return rc;
}
