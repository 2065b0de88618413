package dev.baton.control;

class LocalProcessBackendTest extends LaunchBackendContract {

  @Override
  LaunchBackend backend() {
    return new LocalProcessBackend();
  }
}
