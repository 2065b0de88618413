package dev.baton.control;

class LocalProcessLauncherTest extends ProcessLauncherContract {

  @Override
  ProcessLauncher backend() {
    return new LocalProcessLauncher();
  }
}
