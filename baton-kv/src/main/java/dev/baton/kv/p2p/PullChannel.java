package dev.baton.kv.p2p;

import dev.baton.kv.KvCacheView;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One way of moving leased blocks into local block memory once a connection is authenticated:
 * streamed over the socket ({@link TcpPullChannel}) or copied out of the peer's exported memory
 * ({@link SharedMemoryPullChannel}). Both send the same READ request and read the same READ_OK
 * header; they differ only in where the bytes come from.
 */
abstract class PullChannel {

  /** The READ_OK answer's header: how many blocks of which size follow. */
  record ReadOk(int count, long blockBytes, ByteBuffer rest) {}

  final KvCacheView memory;

  PullChannel(KvCacheView memory) {
    this.memory = memory;
  }

  /** The transfer mode this channel asks the server for ({@link Wire#MODE_STREAM}, ...). */
  abstract byte mode();

  /** Short name for results and metrics ({@code tcp}, {@code shm}). */
  abstract String name();

  /** Reads the blocks named in {@code header} into {@code localIds}. */
  abstract TransferResult receive(
      String peer, PeerConnection connection, ReadOk header, int[] localIds)
      throws IOException, PullFailure;

  /** Sends READ, checks the answer, and receives the blocks. */
  final TransferResult pull(
      String peer,
      PeerConnection connection,
      String requestId,
      String token,
      int[] remoteIds,
      int[] localIds)
      throws IOException, PullFailure {
    Wire.FrameBuilder read =
        new Wire.FrameBuilder(Wire.READ)
            .putString(requestId)
            .putString(token)
            .putByte(mode())
            .putInt(remoteIds.length);
    for (int id : remoteIds) {
      read.putInt(id);
    }
    Wire.writeFully(connection.channel(), read.finish());
    ByteBuffer reply = Wire.readFrame(connection.channel());
    byte type = reply.get();
    if (type == Wire.ERROR) {
      return errorResult(reply);
    }
    if (type != Wire.READ_OK) {
      throw new Wire.ProtocolException("expected READ_OK, got " + type);
    }
    int count = Wire.getInt(reply);
    long blockBytes = Wire.getLong(reply);
    if (count != remoteIds.length || blockBytes != memory.blockBytes()) {
      throw new Wire.ProtocolException("READ_OK does not match the request");
    }
    return receive(peer, connection, new ReadOk(count, blockBytes, reply), localIds);
  }

  static TransferResult errorResult(ByteBuffer reply) throws Wire.ProtocolException {
    TransferStatus status = TransferStatus.fromCode(Wire.getByte(reply));
    return TransferResult.failed(status, Wire.getString(reply));
  }
}
