package dev.baton.bench;

/**
 * The fallback when neither the model's tokenizer nor the server's {@code /tokenize} is at hand:
 * one token per whitespace-separated word. Prompts built from {@link WordList} words are close to
 * one token per word in Llama-3 and GPT vocabularies, and the server's usage block still reports
 * the true prompt lengths in the result.
 */
public final class WordTokenizer implements PromptTokenizer {

  @Override
  public String id() {
    return "words (approximate)";
  }

  @Override
  public int count(String text) {
    return StubServer.countWords(text);
  }

  @Override
  public boolean exact() {
    return false;
  }
}
