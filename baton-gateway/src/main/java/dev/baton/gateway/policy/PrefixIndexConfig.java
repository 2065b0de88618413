package dev.baton.gateway.policy;

/**
 * The prefix index: {@code capacityBlocks} bounds its memory (about 20 bytes per block), {@code
 * blockSize} tokens per block when a tokenizer is configured, {@code charsPerBlock} otherwise.
 */
public record PrefixIndexConfig(
    int capacityBlocks,
    int blockSize,
    int charsPerBlock,
    double cacheThreshold,
    int balanceAbs,
    double balanceRel) {}
