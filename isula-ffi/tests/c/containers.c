/*
 * containers: the container calls of libisula on a long-running container: create, start,
 * list, inspect, exec (output and exit code captured), wait with a timeout, stop (escalating
 * to SIGKILL), wait,
 * kill on a stopped container (refused), remove.
 *
 * usage: containers ARCHIVE DIR
 * Prints one line per step; exits 1 on the first unexpected result. When containers are not
 * implemented in this libisula (ISULA_UNIMPLEMENTED) it says so and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isula.h>

static int fail(const char *what, isula_status st, char *err)
{
    printf("FAIL: %s: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    return 1;
}

#define CALL(what, expr)                                        \
    do {                                                        \
        isula_status st_ = (expr);                              \
        if (st_ != ISULA_OK) { rc = fail(what, st_, err); goto out; } \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARCHIVE DIR\n", argv[0]);
        return 2;
    }
    char config[4096];
    /* No default bridge network: this test needs no networking and must leave no bridge behind. */
    snprintf(config, sizeof config, "{\"graph\": \"%s/root\", \"state\": \"%s/state\", \"bridge\": \"none\"}",
             argv[2], argv[2]);
    isula_engine *e = NULL;
    char *err = NULL, *json = NULL, *id = NULL;
    int rc = 1;
    int32_t code = -1;
    isula_status st = isula_engine_open(config, &e, &err);
    if (st != ISULA_OK) return fail("open", st, err);

    CALL("load", isula_image_load(e, argv[1], NULL, &json, &err));
    isula_string_free(json);

    st = isula_container_create(e, "{\"Image\": \"busybox:latest\", \"Cmd\": [\"sleep\", \"300\"], \"Name\": \"ffi-sleeper\"}",
                                &id, &err);
    if (st == ISULA_UNIMPLEMENTED) {
        printf("containers: not available in this libisula yet (%s)\n", err);
        isula_string_free(err);
        rc = 0;
        goto out;
    }
    if (st != ISULA_OK) { rc = fail("create", st, err); goto out; }
    printf("created: %s\n", id);

    CALL("start", isula_container_start(e, "ffi-sleeper", &err));
    CALL("list", isula_container_list(e, "{\"Filters\": [\"name=ffi-sleeper\"]}", &json, &err));
    printf("list: %s\n", json);
    isula_string_free(json);
    CALL("inspect", isula_container_inspect(e, id, &json, &err));
    printf("inspect: %s\n", json);
    isula_string_free(json);
    CALL("exec", isula_container_exec(e, id, "{\"Cmd\": [\"sh\", \"-c\", \"echo out; echo err >&2; exit 3\"]}", &json, &err));
    printf("exec: %s\n", json);
    isula_string_free(json);

    /* a running container outlasts a short wait: UNAVAILABLE, exit code -1 */
    st = isula_container_wait_timeout(e, id, 100, &code, &err);
    printf("wait 100ms: %s %d (%s)\n", isula_status_name(st), code, err ? err : "");
    isula_string_free(err);
    err = NULL;
    if (st != ISULA_UNAVAILABLE || code != -1) { rc = 1; goto out; }

    /* sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL after 1 s */
    CALL("stop", isula_container_stop(e, id, 1, &err));
    CALL("wait", isula_container_wait(e, id, &code, &err));
    printf("exit code: %d\n", code);
    code = -1;
    CALL("wait timeout", isula_container_wait_timeout(e, id, 5000, &code, &err));
    printf("wait timeout exit code: %d\n", code);
    st = isula_container_kill(e, id, "KILL", &err);
    printf("kill stopped: %s (%s)\n", isula_status_name(st), err ? err : "");
    isula_string_free(err);
    err = NULL;

    CALL("remove", isula_container_remove(e, id, NULL, &err));
    st = isula_container_inspect(e, id, &json, &err);
    printf("inspect removed: %s\n", isula_status_name(st));
    isula_string_free(err);
    err = NULL;
    CALL("list all", isula_container_list(e, "{\"All\": true}", &json, &err));
    printf("list all: %s\n", json);
    isula_string_free(json);
    rc = 0;
out:
    if (rc != 0 && id && e) {
        /* leave nothing behind after a failure */
        isula_container_remove(e, id, "{\"Force\": true}", NULL);
    }
    isula_string_free(id);
    if (e) {
        isula_image_remove(e, "busybox:latest", "{\"Force\": true}", NULL, NULL);
        isula_engine_close(e);
    }
    return rc;
}
