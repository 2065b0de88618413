package dev.baton.kv.p2p;

import java.nio.channels.SocketChannel;

/**
 * An authenticated connection to a block server and what the server proved about itself in the
 * handshake: its host id (same host means shared memory is possible), the file its block memory is
 * exported as (empty when none), the name of its exported device memory (empty when none), its
 * block size and block count.
 */
record PeerConnection(
    SocketChannel channel,
    String peerHostId,
    String exportPath,
    String deviceExport,
    long blockBytes,
    int blocks) {}
