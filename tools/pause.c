/*
 * The pod sandbox process for the local test cluster (tools/images.py builds it into the
 * localhost/pause image that containerd's sandbox_image points at; nothing can be pulled).
 *
 * It holds the pod's namespaces open: waits for signals forever, reaps any child that ends
 * up re-parented to it (it is PID 1 of a shared PID namespace), exits 0 on SIGINT or SIGTERM.
 * Built statically (gcc -static -O2) so the image is this one file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "extdns-1"

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int on(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("pause %s\n", VERSION);
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: warning: not PID 1, orphans will not be reaped here\n");
    }
    if (on(SIGINT, stop, 0) < 0 || on(SIGTERM, stop, 0) < 0 ||
        on(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
