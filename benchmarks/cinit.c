/* The floor for an init: block every signal, fork + exec the command, then
 * collect signals with sigwaitinfo: reap on SIGCHLD, forward the rest to the
 * child. Exits with the child's status (128+N for signal N).
 *
 * With -k it is the floor below that: SIGCHLD is ignored, so the kernel reaps
 * every zombie handed to it (no wait status is ever seen), and the init only
 * waits for its children to be gone. Used for the reaping benchmark alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int kernel = 0, i = 1;
    if (i < argc && strcmp(argv[i], "-k") == 0) kernel = 1, i++;
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) {
        fprintf(stderr, "usage: cinit [-k] [--] COMMAND...\n");
        return 2;
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    if (kernel) signal(SIGCHLD, SIG_IGN);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        signal(SIGCHLD, SIG_DFL);
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[i], argv + i);
        _exit(errno == ENOENT ? 127 : 126);
    }
    if (kernel) {
        /* wait() returns only once every child is gone, reaped by the kernel */
        while (wait(NULL) >= 0 || errno == EINTR) {
        }
        return 0;
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == child) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        }
    }
}
