package dev.baton.cuda;

/** A CUDA library is missing, or a CUDA, cuBLAS or NVRTC call failed; the message says which. */
public final class CudaException extends RuntimeException {

  public CudaException(String message) {
    super(message);
  }
}
