<?php
// Reads a Joomla configuration.php the way Joomla does (PHP evaluates it), but only after PHP's
// own tokenizer has shown the file is nothing but a class of property declarations: no calls,
// includes or statements run, even when smtpcheck reads the file through sudo. The validated
// text itself is evaluated (not the path), so the file cannot change between check and use.
// Prints JSON: {"reader": ..., "values": {...}} or {"reader": ..., "error": ...}.
$out = ['php' => PHP_VERSION];
$path = $argv[1] ?? '';
$src = @file_get_contents($path, false, null, 0, 1048577);
if ($src === false) { $out['error'] = 'unreadable'; echo json_encode($out); exit(0); }
// Judge the whole file or nothing: a validated prefix says nothing of what follows it.
if (strlen($src) > 1048576) { $out['error'] = 'not executed: the file is over 1 MiB'; echo json_encode($out); exit(0); }
if (!function_exists('token_get_all')) { $out['error'] = 'tokenizer extension missing'; echo json_encode($out); exit(0); }
// Where a token stands matters as much as what it is: `touch('x');` is only names, parentheses,
// a string and a semicolon. Outside the class only its header `class NAME {` may appear (any
// other top-level code would run); inside its body only the tokens of property declarations.
$layout = [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT];
$allowed = [T_STRING, T_PUBLIC, T_VAR, T_VARIABLE, T_CONSTANT_ENCAPSED_STRING, T_LNUMBER,
    T_DNUMBER, T_ARRAY, T_DOUBLE_ARROW];
$chars = ['=', ';', ',', '(', ')', '[', ']', '-', '+', '.'];
$state = 'outside';  // outside -> class -> name -> body -> outside
$line = 1;
// TOKEN_PARSE: a file PHP cannot even parse is a load failure (Joomla cannot use it), told
// apart from valid code that the check below refuses to run.
try { $tokens = token_get_all($src, TOKEN_PARSE); }
catch (Throwable $e) { $out['error'] = get_class($e) . ': ' . $e->getMessage(); echo json_encode($out); exit(0); }
foreach ($tokens as $tok) {
    if (is_array($tok)) $line = $tok[2];  // one-character tokens carry no line: keep the last
    $id = is_array($tok) ? $tok[0] : $tok;
    if (in_array($id, $layout, true)) continue;
    if ($state === 'outside' && ($id === T_OPEN_TAG || $id === T_CLOSE_TAG)) continue;
    if ($state === 'outside' && $id === T_CLASS) { $state = 'class'; continue; }
    if ($state === 'class' && $id === T_STRING) { $state = 'name'; continue; }
    if ($state === 'name' && $id === '{') { $state = 'body'; continue; }
    if ($state === 'body' && $id === '}') { $state = 'outside'; continue; }
    if ($state === 'body' && in_array($id, is_array($tok) ? $allowed : $chars, true)) continue;
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
