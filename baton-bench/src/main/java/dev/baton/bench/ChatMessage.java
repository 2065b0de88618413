package dev.baton.bench;

/** One message of a chat conversation ({@code role} is "user", "assistant" or "system"). */
public record ChatMessage(String role, String content) {}
