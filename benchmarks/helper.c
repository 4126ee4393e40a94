/* Workloads for the benchmark, run as the init's child. Each reports to the
 * harness through a FIFO (REPORT) and, where it waits for the harness, reads
 * one byte from another FIFO (GO). Times are CLOCK_MONOTONIC nanoseconds,
 * the clock of Python's time.monotonic_ns().
 *
 *   stamp REPORT             write the time this process started, exit 0
 *   sigrecv REPORT           "ready", then the time each SIGUSR1 reaches the handler
 *   pause                    sleep until killed
 *   serve REPORT             a service: write the time it started, then sleep until killed
 *   zombies N REPORT GO      a grandchild makes N zombies, says "ready", waits for GO,
 *                            exits: all N are handed to the init at once; then "done"
 *   orphans N REPORT GO      "ready", wait for GO, then N double forks in a row: each
 *                            leaves an orphan that exits at once; then "done"
 *   tree TOTAL IGNORING REPORT  TOTAL background processes, IGNORING of them with
 *                            SIGTERM ignored, all in our process group; "ready"
 *   ignore REPORT            the storm's signals (see storm) ignored, "ready", sleep until
 *                            killed (SIGTERM at its default)
 *   storm PID N              send PID N signals, in turn USR1, USR2, HUP and RTMIN..RTMIN+5,
 *                            as fast as kill() goes (a full real-time queue: dropped)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report = -1;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void say(const char *text) {
    ssize_t unused = write(report, text, strlen(text));
    (void)unused;
}

static void say_time(long long t) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", t);
    ssize_t unused = write(report, buf, (size_t)n);
    (void)unused;
}

/* The never-wedge issue's storm: what a misbehaving sidecar or test harness sends. */
#define STORM_KINDS 9
static int storm_signal(int i) {
    static const int standard[] = {SIGUSR1, SIGUSR2, SIGHUP};
    return i < 3 ? standard[i] : SIGRTMIN + (i - 3);
}

static void on_usr1(int sig) {
    (void)sig;
    say_time(now_ns());
}

static void wait_go(const char *path) {
    int fd = open(path, O_RDONLY);
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR) {
    }
    close(fd);
}

static pid_t fork_retry(void) {
    for (;;) {
        pid_t pid = fork();
        if (pid >= 0 || errno != EAGAIN) return pid;
        usleep(1000);
    }
}

static void open_report(const char *path) {
    report = open(path, O_WRONLY);
    if (report < 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    long long start = now_ns();
    if (argc < 2) return 2;
    const char *mode = argv[1];
    if (strcmp(mode, "stamp") == 0 && argc == 3) {
        open_report(argv[2]);
        say_time(start);
        return 0;
    }
    if (strcmp(mode, "serve") == 0 && argc == 3) {
        open_report(argv[2]);
        say_time(start);
        for (;;) pause();
    }
    if (strcmp(mode, "pause") == 0) {
        for (;;) pause();
    }
    if (strcmp(mode, "sigrecv") == 0 && argc == 3) {
        open_report(argv[2]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        say("ready\n");
        for (;;) pause();
    }
    if ((strcmp(mode, "zombies") == 0 || strcmp(mode, "orphans") == 0) && argc == 5) {
        long n = atol(argv[2]);
        open_report(argv[3]);
        pid_t maker = fork_retry();
        if (maker == 0) {
            if (mode[0] == 'z') {
                int gate[2];
                if (pipe(gate) < 0) _exit(1);
                for (long i = 0; i < n; i++) {
                    pid_t pid = fork_retry();
                    if (pid == 0) _exit(0); /* holds gate[1] until it is a zombie */
                    if (pid < 0) _exit(1);
                }
                close(gate[1]);
                char c;
                while (read(gate[0], &c, 1) != 0) {
                } /* EOF: every child has exited */
                say("ready\n");
                wait_go(argv[4]);
                _exit(0); /* the init inherits all n zombies at once */
            }
            say("ready\n");
            wait_go(argv[4]);
            for (long i = 0; i < n; i++) {
                pid_t mid = fork_retry();
                if (mid == 0) {
                    if (fork_retry() == 0) _exit(0); /* the orphan */
                    _exit(0);
                }
                if (mid < 0) _exit(1);
                while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {
                }
            }
            _exit(0);
        }
        while (waitpid(maker, NULL, 0) < 0 && errno == EINTR) {
        }
        say("done\n");
        for (;;) pause();
    }
    if (strcmp(mode, "tree") == 0 && argc == 5) {
        long total = atol(argv[2]), ignoring = atol(argv[3]);
        open_report(argv[4]);
        for (long i = 0; i < total; i++) {
            /* set in the parent, so no TERM can arrive before it holds */
            signal(SIGTERM, i < ignoring ? SIG_IGN : SIG_DFL);
            pid_t pid = fork_retry();
            if (pid == 0) {
                close(report);
                for (;;) pause();
            }
        }
        signal(SIGTERM, SIG_DFL);
        say("ready\n");
        for (;;) pause();
    }
    if (strcmp(mode, "ignore") == 0 && argc == 3) {
        open_report(argv[2]);
        for (int i = 0; i < STORM_KINDS; i++) signal(storm_signal(i), SIG_IGN);
        say("ready\n");
        for (;;) pause();
    }
    if (strcmp(mode, "storm") == 0 && argc == 4) {
        pid_t target = (pid_t)atol(argv[2]);
        long n = atol(argv[3]);
        for (long i = 0; i < n; i++) {
            if (kill(target, storm_signal((int)(i % STORM_KINDS))) < 0 && errno == ESRCH) return 1;
        }
        return 0;
    }
    fprintf(stderr, "helper: bad arguments\n");
    return 2;
}
