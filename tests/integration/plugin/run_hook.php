<?php
// Test driver: runs the packaged hook class the way SuiteCRM would call it after
// a save, with a stand-in bean, user, configuration and log; prints JSON.
// Usage: php run_hook.php <package dir> <hook method> <module> <record id> [saves]
// The shared secret comes from the DSCRM_TEST_WEBHOOK_SECRET environment variable.

define('sugarEntry', true);

class StandInLog
{
    public $lines = array();

    public function __call($level, $args)
    {
        $this->lines[] = array('level' => $level, 'message' => (string)$args[0]);
    }
}

list(, $packageDir, $method, $module, $recordId) = $argv;
$saves = isset($argv[5]) ? (int)$argv[5] : 1;
$GLOBALS['log'] = new StandInLog();
$GLOBALS['current_user'] = (object)array('id' => 'seed_user_zhang');
$GLOBALS['sugar_config'] = array(
    'dscrm_bridge' => array('webhook_secret' => (string)getenv('DSCRM_TEST_WEBHOOK_SECRET')),
);

require $packageDir . '/DscrmBridge/DscrmBridgeHook.php';

$bean = new stdClass();
$bean->module_dir = $module;
$bean->id = $recordId;
$arguments = array('related_module' => 'Contacts', 'related_id' => 'c-1', 'link' => 'contacts');

$hook = new DscrmBridgeHook();
for ($save = 0; $save < $saves; $save++) {
    $hook->$method($bean, 'event', $arguments);
}

echo json_encode(array(
    'completed' => true,
    'transport' => function_exists('curl_init') ? 'curl' : 'streams',
    'log' => $GLOBALS['log']->lines,
));
