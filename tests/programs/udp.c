/* UDP on loopback between two sockets of one program: sendto/recvfrom with the sender's
 * address checked, then both sockets connected and send/recv, byte-exact (every byte value,
 * an empty datagram, a datagram larger than a page). Run by tests/c_guests.rs natively and
 * as WASIX (with --net); both must print the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp_on_loopback(struct sockaddr_in *addr) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) { perror("socket"); return -1; }
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)addr, sizeof *addr) != 0) { perror("bind"); return -1; }
    socklen_t len = sizeof *addr;
    if (getsockname(s, (struct sockaddr *)addr, &len) != 0) { perror("getsockname"); return -1; }
    return s;
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

int main(void) {
    struct sockaddr_in a_addr, b_addr;
    int a = udp_on_loopback(&a_addr), b = udp_on_loopback(&b_addr);
    if (a < 0 || b < 0) return 1;

    unsigned char msg[256], buf[8192];
    for (int i = 0; i < 256; i++) msg[i] = (unsigned char)i;
    ssize_t n = sendto(a, msg, sizeof msg, 0, (struct sockaddr *)&b_addr, sizeof b_addr);
    printf("sendto: %zd\n", n);
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    printf("recvfrom: %zd, bytes equal: %s, from the sender: %s\n", n,
           n == 256 && memcmp(buf, msg, 256) == 0 ? "yes" : "no",
           same_addr(&from, &a_addr) ? "yes" : "no");
    /* The echo back to where it came from. */
    n = sendto(b, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    len = sizeof from;
    ssize_t m = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    printf("echo: sent %zd, got %zd, bytes equal: %s, from the peer: %s\n", n, m,
           m == 256 && memcmp(buf, msg, 256) == 0 ? "yes" : "no",
           same_addr(&from, &b_addr) ? "yes" : "no");

    /* Connected UDP: send/recv with no address. */
    if (connect(a, (struct sockaddr *)&b_addr, sizeof b_addr) != 0) { perror("connect a"); return 1; }
    if (connect(b, (struct sockaddr *)&a_addr, sizeof a_addr) != 0) { perror("connect b"); return 1; }
    unsigned char big[5000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + 3);
    n = send(a, big, sizeof big, 0);
    m = recv(b, buf, sizeof buf, 0);
    printf("connected send: %zd, recv: %zd, bytes equal: %s\n", n, m,
           m == (ssize_t)sizeof big && memcmp(buf, big, sizeof big) == 0 ? "yes" : "no");
    n = send(b, "", 0, 0);
    m = recv(a, buf, sizeof buf, 0);
    printf("empty datagram: sent %zd, got %zd\n", n, m);
    n = send(b, "tail", 4, 0);
    m = recv(a, buf, 2, 0);
    printf("short buffer: sent %zd, got %zd '%.2s'\n", n, m, (char *)buf);
    close(a);
    close(b);
    return 0;
}
