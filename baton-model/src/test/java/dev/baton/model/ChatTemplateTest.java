package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.model.ChatTemplate.Message;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {
  @TempDir Path dir;

  static final List<Message> CHAT =
      List.of(
          new Message("system", "You are terse."),
          new Message("user", "Hi there!  "),
          new Message("assistant", "Hello."),
          new Message("user", "2+2?"));

  @Test
  void llama3TemplateFromTheRandomModel() {
    Path p = dir.resolve("m.gguf");
    RandomModel.write(p, RandomModel.Preset.TINY.spec, 1, GgmlType.F32);
    try (GgufFile f = GgufFile.open(p)) {
      ChatTemplate t = ChatTemplate.fromGguf(f);
      String out = t.render(CHAT, true);
      assertThat(out)
          .isEqualTo(
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                  + "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
                  + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                  + "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
                  + "<|start_header_id|>assistant<|end_header_id|>\n\n");
      assertThat(t.render(CHAT.subList(0, 2), false)).endsWith("Hi there!<|eot_id|>");
      // the rendered prompt tokenizes with the specials recognized
      Tokenizer tok = Tokenizer.fromGguf(f);
      int[] ids = tok.encode(out, false, true);
      assertThat(ids[0]).isEqualTo(tok.bosId());
      assertThat(ids).contains(tok.eotId());
    }
  }

  /** Llama 3.1-style: defaults for unset variables, comments, system slot, 'x' in message. */
  static final String LLAMA31 =
"""
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
""";

  @Test
  void llama31StyleTemplate() {
    ChatTemplate t = ChatTemplate.of(LLAMA31, "<|begin_of_text|>", "<|eot_id|>");
    String head =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
    assertThat(
            t.render(
                List.of(new Message("system", "Be brief. "), new Message("user", "hello")), true))
        .isEqualTo(
            head
                + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    List<Map<String, Object>> withTools =
        List.of(
            Map.of("role", "user", "content", "hi"),
            Map.of("role", "assistant", "content", "", "tool_calls", List.of()));
    assertThat(t.renderMaps(withTools, false, Map.of("date_string", "01 Jan 2026")))
        .isEqualTo(
            head.replace("26 Jul 2024", "01 Jan 2026")
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  }

  /** Qwen2.5-style ChatML with a default system prompt, written with trim_blocks in mind. */
  static final String QWEN =
      """
      {%- if messages[0]['role'] == 'system' %}
          {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
      {%- else %}
          {{- '<|im_start|>system\\nYou are Qwen, a helpful assistant.<|im_end|>\\n' }}
      {%- endif %}
      {%- for message in messages %}
          {%- if message.role == "user" or (message.role == "system" and not loop.first) or message.role == "assistant" %}
              {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
          {%- endif %}
      {%- endfor %}
      {%- if add_generation_prompt %}
          {{- '<|im_start|>assistant\\n' }}
      {%- endif %}
      """;

  @Test
  void chatMlQwenStyle() {
    ChatTemplate t = ChatTemplate.of(QWEN, "", "<|im_end|>");
    assertThat(t.render(List.of(new Message("user", "hello")), true))
        .isEqualTo(
            "<|im_start|>system\nYou are Qwen, a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n");
    assertThat(t.render(CHAT, false))
        .startsWith("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there!  ")
        .endsWith("<|im_start|>user\n2+2?<|im_end|>\n");
  }

  /** Mistral-style: [INST] blocks, alternation enforced with raise_exception. */
  static final String MISTRAL =
      "{{ bos_token }}{% for message in messages %}"
          + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
          + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
          + "{% endif %}"
          + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
          + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
          + "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
          + "{% endif %}{% endfor %}";

  @Test
  void mistralStyleAndRaiseException() {
    ChatTemplate t = ChatTemplate.of(MISTRAL, "<s>", "</s>");
    List<Message> ok =
        List.of(new Message("user", "a"), new Message("assistant", "b"), new Message("user", "c"));
    assertThat(t.render(ok, true)).isEqualTo("<s>[INST] a [/INST]b</s>[INST] c [/INST]");
    assertThatThrownBy(() -> t.render(CHAT, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Conversation roles must alternate");
  }

  @Test
  void pythonStringMethodsWork() {
    String tpl =
        "{% for m in messages %}{% if m.content.startswith('<think>') %}T:"
            + "{{ m.content.split('</think>')[-1].lstrip('\\n') }}"
            + "{% else %}{{ m.content.strip().upper() }}|{{ m.content.rstrip() | length }}"
            + "{% endif %};{% endfor %}";
    ChatTemplate t = ChatTemplate.of(tpl, "", "");
    String out =
        t.render(
            List.of(
                new Message("assistant", "<think>hmm</think>\n\nanswer"),
                new Message("user", "  hey  ")),
            false);
    assertThat(out).isEqualTo("T:answer;HEY|5;");
  }

  /** Qwen3-style: reversed scan with namespace(), thinking split, enable_thinking switch. */
  static final String QWEN3 =
      """
      {%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
      {%- for message in messages[::-1] %}
          {%- set index = (messages|length - 1) - loop.index0 %}
          {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
              {%- set ns.multi_step_tool = false %}
              {%- set ns.last_query_index = index %}
          {%- endif %}
      {%- endfor %}
      {%- for message in messages %}
          {%- set content = message.content %}
          {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "system") %}
              {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
          {%- elif message.role == "assistant" %}
              {%- set reasoning_content = '' %}
              {%- if '</think>' in content %}
                  {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                  {%- set content = content.split('</think>')[-1].lstrip('\n') %}
              {%- endif %}
              {%- if loop.index0 > ns.last_query_index %}
                  {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
              {%- else %}
                  {{- '<|im_start|>' + message.role + '\n' + content }}
              {%- endif %}
              {{- '<|im_end|>\n' }}
          {%- endif %}
      {%- endfor %}
      {%- if add_generation_prompt %}
          {{- '<|im_start|>assistant\n' }}
          {%- if enable_thinking is defined and enable_thinking is false %}
              {{- '<think>\n\n</think>\n\n' }}
          {%- endif %}
      {%- endif %}
      """;

  @Test
  void qwen3StyleTemplate() {
    ChatTemplate t = ChatTemplate.of(QWEN3, "", "<|im_end|>");
    List<Message> chat =
        List.of(
            new Message("user", "q1"),
            new Message("assistant", "<think>\nplan\n</think>\n\nanswer1"),
            new Message("user", "q2"));
    String out = t.render(chat, true);
    // the earlier assistant turn loses its thinking (it precedes the last user query)
    assertThat(out)
        .isEqualTo(
            "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\nanswer1<|im_end|>\n"
                + "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n");
    List<Map<String, Object>> maps =
        List.of(
            Map.of("role", "user", "content", "q"),
            Map.of("role", "assistant", "content", "<think>r</think>a"));
    assertThat(t.renderMaps(maps, false, Map.of()))
        .isEqualTo(
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\na<|im_end|>\n");
    assertThat(t.renderMaps(List.of(maps.get(0)), true, Map.of("enable_thinking", false)))
        .endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n");
  }

  @Test
  void adaptsReverseSlicesAndNamespaceArguments() {
    assertThat(ChatTemplate.adaptToJinjava("{% for m in messages[::-1] %}"))
        .isEqualTo("{% for m in messages|reverse %}");
    assertThat(ChatTemplate.adaptToJinjava("namespace(a=x|length - 1, b='(,)', c=f(1, 2))"))
        .isEqualTo("namespace(a=(x|length - 1), b=('(,)'), c=(f(1, 2)))");
    assertThat(ChatTemplate.adaptToJinjava("namespace()")).isEqualTo("namespace()");
  }

  @Test
  void morePythonStringMethods() {
    String tpl =
        "{{ m.title() }}|{{ m.capitalize() }}|{{ m.replace('o', '0') }}|{{ m.find('w') }}|"
            + "{{ m.count('o') }}|{{ '-'.join(['a', 'b']) }}|{{ '  '.isspace() }}|"
            + "{{ '12'.isdigit() }}|{{ m.endswith(('x', 'ld')) }}|{{ m.split('o', 1) | length }}|"
            + "{{ ' a  b '.split() | join(',') }}|{{ 'xxaxx'.strip('x') }}|{{ m.rstrip('dl') }}";
    ChatTemplate t = ChatTemplate.of("{% set m = 'hello world' %}" + tpl, "", "");
    assertThat(t.render(List.of(), false))
        .isEqualTo("Hello World|Hello world|hell0 w0rld|6|2|a-b|true|true|true|2|a,b|a|hello wor");
  }

  @Test
  void contentIsNeverInterpretedAsTemplateCode() {
    ChatTemplate t = ChatTemplate.of(ChatTemplate.CHATML, "", "");
    assertThat(
            t.render(List.of(new Message("user", "{{ 7 * 7 }} {% if true %}x{% endif %}")), false))
        .isEqualTo("<|im_start|>user\n{{ 7 * 7 }} {% if true %}x{% endif %}<|im_end|>\n");
  }

  @Test
  void extraVariablesAndStrftime() {
    ChatTemplate t =
        ChatTemplate.of(
            "{% if tools is defined %}tools={{ tools | length }}{% endif %}"
                + "{{ strftime_now('%Y') | length }}",
            "", "");
    assertThat(t.renderMaps(List.of(), false, Map.of("tools", List.of("a", "b"))))
        .isEqualTo("tools=24");
    assertThat(t.render(List.of(), false)).isEqualTo("4");
    assertThat(
            ChatTemplate.strftime(
                LocalDateTime.of(2024, 7, 5, 14, 3, 9), "%d %b %Y %H:%M:%S %A %%"))
        .isEqualTo("05 Jul 2024 14:03:09 Friday %");
  }

  @Test
  void missingTemplateIsAClearErrorOrChatMl() {
    Path p = dir.resolve("nt.gguf");
    new GgufWriter().putString("general.architecture", "llama").write(p);
    try (GgufFile f = GgufFile.open(p)) {
      assertThatThrownBy(() -> ChatTemplate.fromGguf(f))
          .isInstanceOf(ModelFormatException.class)
          .hasMessageContaining("no chat template");
      assertThat(ChatTemplate.fromGgufOrChatMl(f).render(List.of(new Message("user", "x")), true))
          .isEqualTo("<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
    }
  }

  @Test
  void brokenTemplateIsAClearError() {
    ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.content }", "", "");
    assertThatThrownBy(() -> t.render(CHAT, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("chat template failed");
  }
}
