/*
 * list_images: open an engine, load an image archive, list, inspect, tag and remove images.
 *
 * usage: list_images ARCHIVE DIR
 *   ARCHIVE  a `docker save` or OCI archive holding busybox:latest
 *   DIR      an empty directory for the engine's root (DIR/root) and state (DIR/state)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isula.h>

/* Print a failed call's status and message, free the message, and fail. */
static int fail(const char *what, isula_status st, char *err)
{
    fprintf(stderr, "%s failed: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    return 1;
}

/* Count the top-level objects of a JSON array of objects (enough for this example). */
static int count_objects(const char *json)
{
    int depth = 0, n = 0;
    int in_string = 0;
    for (const char *p = json; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{') {
            if (depth++ == 1) n++;
        } else if (*p == '}') {
            depth--;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']') {
            depth--;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ARCHIVE DIR\n", argv[0]);
        return 2;
    }
    char config[4096];
    snprintf(config, sizeof config, "{\"graph\": \"%s/root\", \"state\": \"%s/state\"}", argv[2], argv[2]);

    printf("libisula %s\n", isula_version());
    isula_engine *engine = NULL;
    char *err = NULL;
    isula_status st = isula_engine_open(config, &engine, &err);
    if (st != ISULA_OK) return fail("open", st, err);

    int rc = 1;
    char *json = NULL;

    st = isula_image_load(engine, argv[1], NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("load", st, err); goto out; }
    printf("loaded: %s\n", json);
    isula_string_free(json);

    st = isula_image_list(engine, NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("list", st, err); goto out; }
    printf("images: %d %s\n", count_objects(json), json);
    isula_string_free(json);

    st = isula_image_inspect(engine, "busybox:latest", &json, &err);
    if (st != ISULA_OK) { rc = fail("inspect", st, err); goto out; }
    printf("inspect: %.*s...\n", 120, json);
    isula_string_free(json);

    st = isula_image_tag(engine, "busybox:latest", "example/busybox:v1", &err);
    if (st != ISULA_OK) { rc = fail("tag", st, err); goto out; }
    printf("tagged: example/busybox:v1\n");

    st = isula_image_list(engine, "{\"Filters\": [\"reference=example/*\"]}", &json, &err);
    if (st != ISULA_OK) { rc = fail("list filtered", st, err); goto out; }
    printf("filtered: %d %s\n", count_objects(json), json);
    isula_string_free(json);

    st = isula_image_inspect(engine, "no-such-image:1", &json, &err);
    printf("inspect missing: %s (%s)\n", isula_status_name(st), err ? err : "");
    isula_string_free(err);
    err = NULL;

    st = isula_image_remove(engine, "example/busybox:v1", NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("remove tag", st, err); goto out; }
    printf("removed: %s\n", json);
    isula_string_free(json);

    st = isula_image_remove(engine, "busybox:latest", "{\"Force\": false}", &json, &err);
    if (st != ISULA_OK) { rc = fail("remove image", st, err); goto out; }
    printf("removed: %s\n", json);
    isula_string_free(json);

    st = isula_image_list(engine, NULL, &json, &err);
    if (st != ISULA_OK) { rc = fail("list", st, err); goto out; }
    printf("images: %d %s\n", count_objects(json), json);
    isula_string_free(json);
    rc = 0;
out:
    isula_engine_close(engine);
    return rc;
}
