/* stop_signal.c — the stop flag and its handlers (stop_signal.h). */
#include "psrec/core/stop_signal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t received_signal = 0;

static void on_stop_signal(int signo)
{
    if (signo == SIGINT && received_signal == SIGINT) {
        /* Ctrl-C twice: the default action, now. */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (received_signal == 0)
        received_signal = signo;
    else if (signo == SIGINT)
        received_signal = SIGINT; /* a later Ctrl-C still counts as the first of two */
}

void stop_signal_install(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

int stop_signal_received(void) { return (int)received_signal; }

void stop_signal_raise(int signo)
{
    if (received_signal == 0)
        received_signal = signo;
}

const char *stop_signal_name(int signo)
{
    switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    default: {
        static char text[32];
        snprintf(text, sizeof text, "signal %d", signo);
        return text;
    }
    }
}
