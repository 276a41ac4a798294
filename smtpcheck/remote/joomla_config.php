<?php
// Reads a Joomla configuration.php the way Joomla does (PHP evaluates it), but only after PHP's
// own tokenizer has shown the file is nothing but a class of property declarations: no calls,
// includes or statements run, even when smtpcheck reads the file through sudo. The validated
// text itself is evaluated (not the path), so the file cannot change between check and use.
// Prints JSON: {"reader": ..., "values": {...}} or {"reader": ..., "error": ...}.
$out = ['php' => PHP_VERSION];
$path = $argv[1] ?? '';
$src = @file_get_contents($path, false, null, 0, 1048576);
if ($src === false) { $out['error'] = 'unreadable'; echo json_encode($out); exit(0); }
if (!function_exists('token_get_all')) { $out['error'] = 'tokenizer extension missing'; echo json_encode($out); exit(0); }
$allowed = [T_OPEN_TAG, T_CLOSE_TAG, T_WHITESPACE, T_COMMENT, T_DOC_COMMENT, T_CLASS, T_STRING,
    T_PUBLIC, T_VAR, T_VARIABLE, T_CONSTANT_ENCAPSED_STRING, T_LNUMBER, T_DNUMBER, T_ARRAY,
    T_DOUBLE_ARROW];
$chars = ['{', '}', '=', ';', ',', '(', ')', '[', ']', '-', '+', '.'];
$line = 1;
foreach (token_get_all($src) as $tok) {
    if (is_array($tok)) $line = $tok[2];  // one-character tokens carry no line: keep the last
    if (is_array($tok) ? in_array($tok[0], $allowed, true) : in_array($tok, $chars, true)) continue;
    $what = is_array($tok) ? token_name($tok[0]) : $tok;
    $out['error'] = "not executed: the file holds $what at line $line, beyond property declarations";
    echo json_encode($out); exit(0);
}
try {
    eval('?>' . $src);
    if (!class_exists('JConfig', false)) { $out['error'] = 'no class JConfig'; echo json_encode($out); exit(0); }
    $config = new JConfig();
} catch (Throwable $e) {
    $out['error'] = get_class($e) . ': ' . $e->getMessage();
    echo json_encode($out); exit(0);
}
$values = [];
foreach (['mailer', 'mailfrom', 'fromname', 'replyto', 'smtpauth', 'smtpuser', 'smtppass',
          'smtphost', 'smtpsecure', 'smtpport', 'smtp_port'] as $name) {
    if (property_exists($config, $name)) $values[$name] = $config->$name;
}
$out['values'] = $values;
echo json_encode($out, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
